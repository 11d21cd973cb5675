/* er-shell-join — placeholder, replaced below. */
int main(void) { return 127; }
