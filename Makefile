# Makefile: builds the examples into build/ (make), runs the tests (make test), the demo,
# the benchmarks (make bench) and the fuzzers (make fuzz); make dev builds src/ as
# separate translation units.
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wpedantic
STD = -std=c11
LDLIBS = -pthread -lm
SAN_ADDR = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
SAN_THREAD = -fsanitize=thread
EXAMPLES = word_count word_count_pipe join_csv sort_lines group_stats tfidf pi_estimation union csv_outer_join top_lines
SRC = src/gleam_api.h src/gleam_net_api.h $(wildcard src/*/*.h src/*/*.c)
UNIT = $(patsubst tests/%.c,%,$(wildcard tests/test_*.c))
# programs the test scripts run (a hostile peer, jobs that fail on purpose): tests/NAME.c
PROGS = $(patsubst tests/%.c,%,$(filter-out tests/test_%.c,$(wildcard tests/*.c)))
FLAVOURS = test asan tsan
DEV_OBJ = $(patsubst src/%.c,build/dev/obj/%.o,$(wildcard src/*/*.c))
HEADERS = gleam.h gleam_net.h

all: $(EXAMPLES:%=build/%) build/gleam build/gen

gleam.h gleam_net.h &: $(SRC) tools/amalgamate
	tools/amalgamate

build/%: examples/%.c $(HEADERS)
	@mkdir -p build
	$(CC) $(STD) $(CFLAGS) $(WARN) -I. -o $@ $< $(LDLIBS)

# `gleam master` and `gleam agent`: a few lines that include both headers.
build/gleam: tools/gleam.c $(HEADERS)
	@mkdir -p build
	$(CC) $(STD) $(CFLAGS) $(WARN) -I. -o $@ $< $(LDLIBS)

# The project's data generator, for the tests and the benchmarks.
build/gen: tools/gen.c
	@mkdir -p build
	$(CC) $(STD) -O2 $(WARN) -o $@ $< -lm

# The tests: the implementation is compiled once per flavour, from the amalgamation with
# #line markers (so that traces name the files of src/) and with its internal functions
# external, and every test is linked against it. Tests of internals include src/'s headers.
build/gleam-lines.h: $(SRC) tools/amalgamate
	@mkdir -p build
	tools/amalgamate --lines $@
build/impl.c: Makefile
	@mkdir -p build
	printf '#define GLEAM_IMPLEMENTATION\n#include "gleam-lines.h"\n#include "gleam_net-lines.h"\n' > $@
TEST_CFLAGS = $(STD) -O1 -g $(WARN) -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -I. -Isrc -Itests
build/test/impl.o: build/impl.c build/gleam-lines.h
	@mkdir -p build/test
	$(CC) $(TEST_CFLAGS) -DGLEAM__EXTERN -Ibuild -c -o $@ $<
build/asan/impl.o: build/impl.c build/gleam-lines.h
	@mkdir -p build/asan
	$(CC) $(TEST_CFLAGS) $(SAN_ADDR) -DGLEAM__EXTERN -Ibuild -c -o $@ $<
build/tsan/impl.o: build/impl.c build/gleam-lines.h
	@mkdir -p build/tsan
	$(CC) $(TEST_CFLAGS) $(SAN_THREAD) -DGLEAM__EXTERN -Ibuild -c -o $@ $<

build/test/test_%: tests/test_%.c tests/harness.h gleam.h build/test/impl.o
	$(CC) $(TEST_CFLAGS) -o $@ $< build/test/impl.o $(LDLIBS)
build/asan/test_%: tests/test_%.c tests/harness.h gleam.h build/asan/impl.o
	$(CC) $(TEST_CFLAGS) $(SAN_ADDR) -o $@ $< build/asan/impl.o $(LDLIBS)
build/tsan/test_%: tests/test_%.c tests/harness.h gleam.h build/tsan/impl.o
	$(CC) $(TEST_CFLAGS) $(SAN_THREAD) -o $@ $< build/tsan/impl.o $(LDLIBS)

unit: $(foreach f,$(FLAVOURS),$(UNIT:%=build/$(f)/%))

# make dev: every file of src/ a translation unit of its own (each must compile alone), the
# examples linked against them; tests/dev.sh checks they answer as the amalgamated build.
build/dev/obj/%.o: src/%.c $(wildcard src/*/*.h) src/gleam_api.h
	@mkdir -p $(dir $@)
	$(CC) $(STD) -O1 -g $(WARN) -Isrc -c -o $@ $<
build/dev/include/gleam.h: src/gleam_api.h
	@mkdir -p build/dev/include
	cp $< $@
build/dev/include/gleam_net.h: src/gleam_net_api.h
	@mkdir -p build/dev/include
	cp $< $@
build/dev/%: examples/%.c build/dev/include/gleam.h build/dev/include/gleam_net.h $(DEV_OBJ)
	$(CC) $(STD) -O1 -g $(WARN) -Ibuild/dev/include -o $@ $< $(DEV_OBJ) $(LDLIBS)
dev: $(EXAMPLES:%=build/dev/%)

# The README's test command: every test, stopping with a non-zero status if any fails.
build/test/%: tests/%.c $(HEADERS)
	@mkdir -p build/test
	$(CC) $(STD) $(CFLAGS) $(WARN) -I. -o $@ $< $(LDLIBS)

test: all unit dev $(PROGS:%=build/test/%)
	tools/amalgamate --check
	tests/run $(UNIT)

# make fuzz: coverage-guided fuzzing (clang's libFuzzer, with ASan+UBSan) of the parsers of
# what other processes send and files hold: frames and messages, plans, packed rows, CSV.
# Each target runs FUZZ_SECONDS seconds, one after the other, from a copy of its corpus
# (tests/fuzz/corpus/NAME) in build/fuzz/; tests/fuzz/round.sh reports, and fails on a
# finding. tests/fuzz.sh replays the corpora under gcc in make test.
FUZZ_SECONDS = 60
FUZZ_CC = clang
FUZZ_TARGETS = frame plan msgpack csv
FUZZ_CFLAGS = $(STD) -O1 -g $(WARN) -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L $(SAN_ADDR)
build/fuzz/impl.o: build/impl.c build/gleam-lines.h
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -DGLEAM__EXTERN -Ibuild -c -o $@ $<
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h tests/fuzz/flows.h build/fuzz/impl.o
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -Isrc -o $@ $< build/fuzz/impl.o $(LDLIBS)
fuzz: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/round.sh $(FUZZ_TARGETS)

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

.PHONY: all unit dev test fuzz bench demo clean
.SECONDARY:
