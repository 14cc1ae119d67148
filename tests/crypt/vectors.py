#!/usr/bin/env python3
# Independent reference for the crypt format v1 test vectors
# (docs/crypt-format.md, tests/unit/test_crypt_format.c), written from the
# specification with python3-cryptography rather than with our C code.
import hashlib, struct
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives import hashes

def seq(a, n): return bytes((a + i) & 0xff for i in range(n))

master = seq(0x00, 32); file_id = seq(0xa0, 16); fkey = seq(0x40, 32)
hnonce = seq(0xb0, 12)
aad = b"FSFCRYPT" + struct.pack("<HHII", 1, 1, 4096, 0) + file_id
ct = AESGCM(master).encrypt(hnonce, fkey, aad)
header = aad + hnonce + ct
assert len(header) == 96
print("header", header.hex())

pt = b"fsfilter crypt v1 test vector, block 0"
bnonce = seq(0xc0, 12)
for blk in (0, 1):
    c = AESGCM(fkey).encrypt(bnonce, pt, file_id + struct.pack("<Q", blk))
    print("block%d" % blk, (bnonce + c).hex())

salt = seq(0x60, 32)
kf = seq(0x00, 32)
kek_h = HKDF(hashes.SHA256(), 32, salt, b"fsfilter-crypt v1 key file").derive(kf)
print("kek_hkdf", kek_h.hex())
kek_s = hashlib.scrypt(b"correct horse", salt=salt, n=1024, r=8, p=1, dklen=32)
print("kek_scrypt", kek_s.hex())
mnonce = seq(0xd0, 12)
mk = AESGCM(kek_h).encrypt(mnonce, master, b"fsfilter-crypt v1 master key")
print("master_key_hkdf", (mnonce + mk).hex())
