# Makefile: builds the examples into build/, runs the tests (make test), the demo and the
# benchmarks (make bench).
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wpedantic
STD = -std=c11
LDLIBS = -pthread -lm
SAN_ADDR = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_THREAD = -fsanitize=thread

EXAMPLES = word_count word_count_pipe join_csv sort_lines group_stats tfidf pi_estimation union csv_outer_join
SRC = $(wildcard src/*.c src/*.h)
UNIT = $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))

all: $(EXAMPLES:%=build/%)

gleam.h: $(SRC) tools/amalgamate
	tools/amalgamate

build/%: examples/%.c gleam.h
	@mkdir -p build
	$(CC) $(STD) $(CFLAGS) $(WARN) -I. -o $@ $< $(LDLIBS)

# Each unit test three ways: plain, with AddressSanitizer + UBSan, with ThreadSanitizer.
build/test/%: tests/%.c tests/harness.h gleam.h
	@mkdir -p build/test
	$(CC) $(STD) -O1 -g $(WARN) -I. -Itests -o $@ $< $(LDLIBS)
build/asan/%: tests/%.c tests/harness.h gleam.h
	@mkdir -p build/asan
	$(CC) $(STD) -O1 -g $(WARN) $(SAN_ADDR) -I. -Itests -o $@ $< $(LDLIBS)
build/tsan/%: tests/%.c tests/harness.h gleam.h
	@mkdir -p build/tsan
	$(CC) $(STD) -O1 -g $(WARN) $(SAN_THREAD) -I. -Itests -o $@ $< $(LDLIBS)

# A join sweeps its probes only with a table of 128 MB or more, and a fold keeps numbers
# compactly only past a table's first 4096 keys: test_steps again, built to sweep every join
# after every 7 probing rows and to fold numbers compactly from the first key, with
# ASan+UBSan and with TSan.
build/sweep-asan/test_steps: tests/test_steps.c tests/harness.h gleam.h
	@mkdir -p build/sweep-asan
	$(CC) $(STD) -O1 -g $(WARN) $(SAN_ADDR) -DGLEAM__SWEEP_BYTES=0 -DGLEAM__SWEEP_ROWS=7 -DGLEAM__NUMS_AFTER=0 -I. -Itests -o $@ $< $(LDLIBS)
build/sweep-tsan/test_steps: tests/test_steps.c tests/harness.h gleam.h
	@mkdir -p build/sweep-tsan
	$(CC) $(STD) -O1 -g $(WARN) $(SAN_THREAD) -DGLEAM__SWEEP_BYTES=0 -DGLEAM__SWEEP_ROWS=7 -DGLEAM__NUMS_AFTER=0 -I. -Itests -o $@ $< $(LDLIBS)

unit: $(UNIT:%=build/test/%) $(UNIT:%=build/asan/%) $(UNIT:%=build/tsan/%) build/sweep-asan/test_steps build/sweep-tsan/test_steps

# The README's test command: every test, stopping with a non-zero status if any fails.
test: all unit
	tools/amalgamate --check
	tests/run $(UNIT)

build/measure: tools/measure.c
	@mkdir -p build
	$(CC) $(STD) -O2 $(WARN) -o $@ $<

# Benchmarks against the installed peers; SCALE, RUNS, THREADS as in bench/run.
bench: all build/measure
	bench/run

demo: build/word_count
	build/word_count -top 10 examples/data/flow.txt

clean:
	rm -rf build

.PHONY: all unit test bench demo clean
.SECONDARY:
