# CPack: a Debian package of the install layout (cmake/install.cmake).
#   cmake -S . -B build-deb -DCMAKE_INSTALL_PREFIX=/usr && \
#     cmake --build build-deb && (cd build-deb && cpack -G DEB)
# (scripts/package does exactly that). The package installs under the
# configured prefix, so configure with /usr for a distribution package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME fsfilter)
set(CPACK_PACKAGE_VENDOR "fsfilter")
set(CPACK_PACKAGE_CONTACT "fsfilter maintainers <fsfilter@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "Windows Filter Manager style minifilters for Linux, over FUSE")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"fsfilter mounts a directory through a stack of file system filters\n\
(minifilters) with altitudes, pre/post callbacks, contexts and\n\
communication ports, as the Windows Filter Manager does. Built-in\n\
filters: redirect, monitor (with the fsfilter spy viewer), crypt.\n\
Includes libfsfilter-client, the headers and pkg-config files to build\n\
filters and port clients.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# Declared by hand (not dpkg-shlibdeps), so the list is reviewed and the
# .deb builds without a Debian source tree: the sonames the binaries link
# (checked by tests/install/deb.sh against readelf) and fuse3 for
# fusermount3 and the mount.fuse helper.
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6 (>= 2.36), libfuse3-3 (>= 3.14), fuse3, libssl3 (>= 3.0), libjson-c5, libinih1")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "bash-completion")
include(CPack)
