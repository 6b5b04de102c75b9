/* SPDX-License-Identifier: MIT */
/*
 * gendata - writes SIZE bytes of deterministic pseudo-text to stdout for the benchmark:
 * words from a small vocabulary, numbers and punctuation in lines of varying length, so gzip
 * finds matches as in real text (neither all zeros nor incompressible noise).
 *   usage: gendata SIZE [SEED]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t state;

/* xorshift64* (Vigna, "An experimental exploration of Marsaglia's xorshift generators") */
static uint64_t next(void)
{
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545F4914F6CDD1DULL;
}

static const char *const words[] = {
	"the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
	"on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an",
	"had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has", "there",
	"been", "if", "more", "when", "will", "would", "who", "so", "no", "processor", "register",
	"memory", "instruction", "interrupt", "virtual", "machine", "page", "table", "kernel",
	"device", "queue", "buffer", "Omnivisor", "x86-64", "compressed", "benchmark", "entropy",
};

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: gendata SIZE [SEED]\n");
		return 2;
	}
	long long size = strtoll(argv[1], NULL, 0);
	state = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
	if (state == 0)
		state = 1;
	static char buf[1 << 16];
	size_t len = 0;
	size_t nr_words = sizeof(words) / sizeof(words[0]);
	int col = 0;
	while (size > 0) {
		uint64_t r = next();
		char tmp[32];
		const char *w;
		if ((r & 15) == 0) {
			snprintf(tmp, sizeof(tmp), "%u", (unsigned)(r >> 40) % 100000);
			w = tmp;
		} else {
			w = words[(r >> 8) % nr_words];
		}
		size_t n = strlen(w);
		if (len + n + 3 > sizeof(buf)) {
			size_t out = len < (size_t)size ? len : (size_t)size;
			fwrite(buf, 1, out, stdout);
			size -= out;
			len = 0;
			if (size == 0)
				break;
		}
		memcpy(buf + len, w, n);
		len += n;
		col += n + 1;
		if (col > 40 + (int)((r >> 20) % 40)) {
			if ((r >> 30) & 1)
				buf[len++] = '.';
			buf[len++] = '\n';
			col = 0;
		} else {
			if ((r >> 33) % 13 == 0)
				buf[len++] = ',';
			buf[len++] = ' ';
		}
	}
	if (size > 0 && len > 0)
		fwrite(buf, 1, len < (size_t)size ? len : (size_t)size, stdout);
	return ferror(stdout) ? 1 : 0;
}
