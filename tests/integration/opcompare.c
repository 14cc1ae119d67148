int main(void) { return 1; } /* placeholder until the test lands */
