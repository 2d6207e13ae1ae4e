/** A `*_keys.txt` file of test/golden: `<key> [<shape>]` per line, `#` comments; as key → shape. */
import { readFileSync } from 'node:fs';
import { GOLDEN_DIR } from './golden_cases.ts';

export function readKeyList(file: string): Map<string, number[]> {
  const text = readFileSync(`${GOLDEN_DIR}/${file}`, 'utf8');
  const out = new Map<string, number[]>();
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^(\S+) \[([\d,]*)\]$/.exec(line.trim());
    if (!m) throw new Error(`unparsed line in ${file}: ${line}`);
    out.set(m[1], m[2] === '' ? [] : m[2].split(',').map(Number));
  }
  return out;
}
