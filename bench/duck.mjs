// duck.mjs: the DuckDB side of bench/run. One workload per call; the answer goes to OUT as
// tab-separated lines without a header or quoting, in the same shape as the references that
// bench/run computes with coreutils and mawk (bench/run compares them line by line).
//
//   node duck.mjs wordcount OUT TEXT      word<TAB>count; a word is a maximal run of [A-Za-z0-9]
//   node duck.mjs sort      OUT FILE      the lines in byte order (COLLATE C)
//   node duck.mjs join      OUT A B       a1,a4,b3 for the CSV rows of A and B with a1 = b2
//   node duck.mjs groupby   OUT KV        key<TAB>count<TAB>sum<TAB>min<TAB>max of key<TAB>int rows
//
// DuckDB uses $THREADS threads (default: every core). bench/run installs @duckdb/node-api into
// $BENCH_DIR/npm and copies this file beside its node_modules.
import { availableParallelism } from 'node:os';
import { DuckDBInstance } from '@duckdb/node-api';

const inputsOf = { wordcount: 1, sort: 1, join: 2, groupby: 1 };

function fail(message, status) {
  console.error(`duck.mjs: ${message}`);
  process.exit(status);
}

// A file name as an SQL string literal.
const literal = (s) => `'${s.replaceAll("'", "''")}'`;

// Each line of a file whole, as the one column `line`: no delimiter, quote or escape can split
// or change it (the separator is a control character the data never holds).
const linesOf = (file) =>
  `read_csv(${literal(file)}, columns = {'line': 'VARCHAR'}, header = false, auto_detect = false, ` +
  `delim = '\u001f', quote = '', escape = '')`;

// Rows of a CSV file without a header, every field as text.
const csvOf = (file, names) => {
  const columns = names.map((n) => `'${n}': 'VARCHAR'`).join(', ');
  return `read_csv(${literal(file)}, columns = {${columns}}, header = false, auto_detect = false, delim = ',')`;
};

function query(workload, files) {
  switch (workload) {
    case 'wordcount':
      return `SELECT word, count(*) FROM (
                SELECT unnest(regexp_extract_all(line, '[A-Za-z0-9]+')) AS word FROM ${linesOf(files[0])})
              GROUP BY word`;
    case 'sort':
      return `SELECT line FROM ${linesOf(files[0])} ORDER BY line COLLATE "C"`;
    case 'join':
      return `SELECT concat_ws(',', a.a1, a.a4, b.b3)
              FROM ${csvOf(files[0], ['a1', 'a2', 'a3', 'a4', 'a5'])} AS a
              JOIN ${csvOf(files[1], ['b1', 'b2', 'b3'])} AS b ON a.a1 = b.b2`;
    case 'groupby':
      return `SELECT key, count(*), sum(value), min(value), max(value)
              FROM read_csv(${literal(files[0])}, columns = {'key': 'VARCHAR', 'value': 'BIGINT'},
                            header = false, auto_detect = false, delim = '\t')
              GROUP BY key`;
  }
  return null;
}

const [workload, out, ...files] = process.argv.slice(2);
if (!(workload in inputsOf) || !out || files.length !== inputsOf[workload]) {
  fail('usage: node duck.mjs wordcount|sort|groupby OUT FILE | node duck.mjs join OUT A.csv B.csv', 2);
}

const threads = process.env.THREADS || String(availableParallelism());
try {
  const instance = await DuckDBInstance.create(':memory:', { threads });
  const connection = await instance.connect();
  await connection.run(
    `COPY (${query(workload, files)}) TO ${literal(out)} ` +
      `(FORMAT csv, HEADER false, DELIMITER '\t', QUOTE '', ESCAPE '')`,
  );
  connection.closeSync();
  instance.closeSync();
} catch (e) {
  fail(e && e.message ? e.message : String(e), 1);
}
