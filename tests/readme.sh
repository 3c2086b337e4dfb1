# readme.sh: the README's word-count program compiles warning-free as written, runs, and
# prints the five highest word counts of /etc/passwd (checked against coreutils).
set -u
cd "$(dirname "$0")/.." || exit 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C
# the first ```c block of the README
awk '/^```c$/ { if (!done) on = 1; next } /^```/ { if (on) { on = 0; done = 1 } next } on' README.md > "$tmp/wc.c"
grep -q 'gleam_run(f)' "$tmp/wc.c" || { echo "FAIL readme: no program found in the first C block"; exit 1; }
if ! cc -std=c11 -O1 -Wall -Wextra -Wpedantic -Werror -I. -o "$tmp/wc" "$tmp/wc.c" -pthread -lm 2> "$tmp/cc.err"; then
    echo "FAIL readme: the README example does not compile:"; cat "$tmp/cc.err"; exit 1
fi
"$tmp/wc" > "$tmp/out" || { echo "FAIL readme: the README example failed"; exit 1; }
# Ties may pick different words: compare the counts, which are unique.
cut -f2 "$tmp/out" > "$tmp/got"
tr -cs 'A-Za-z0-9' '\n' < /etc/passwd | grep -v '^$' | sort | uniq -c | sort -k1,1nr | head -n 5 | awk '{ print $1 }' > "$tmp/want"
if cmp -s "$tmp/got" "$tmp/want"; then
    echo "ok readme: example compiles with -Werror and prints the top 5 counts"
else
    echo "FAIL readme: top counts differ"; diff "$tmp/want" "$tmp/got" | head; exit 1
fi
"$tmp/wc" -gleam.explain 2> "$tmp/plan" > /dev/null
grep -q 'map(tokenize) -> map(appendOne) -> reduce_by(sum)' "$tmp/plan" || { echo "FAIL readme: the explained plan does not fuse the maps"; cat "$tmp/plan"; exit 1; }
echo "ok readme: -gleam.explain shows the maps fused into the reading group"
# The plan shown under "Seeing what a job does" is what the program prints.
awk '/^plan of flow "word count": /{on = 1} on && /^```/{exit} on' README.md > "$tmp/plan_readme"
build/word_count -gleam.threads=2 -gleam.explain -top 10 examples/data/flow.txt 2> "$tmp/plan_now" > /dev/null
if [ -s "$tmp/plan_readme" ] && cmp -s "$tmp/plan_readme" "$tmp/plan_now"; then
    echo "ok readme: the explained plan in the README is the one the program prints"
else
    echo "FAIL readme: the README's plan differs from build/word_count -gleam.explain:"; diff "$tmp/plan_readme" "$tmp/plan_now"; exit 1
fi
