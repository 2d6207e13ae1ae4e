/** Suggestions for messages about a tensor name that is not there. */

/** ". It has N tensors; the closest names are ..." — the names sharing the longest prefix with `name`. */
export function nameHint(name: string, names: readonly string[]): string {
  if (names.length === 0) return '. It holds no tensors.';
  const common = (s: string) => {
    let i = 0;
    while (i < s.length && i < name.length && s[i] === name[i]) i++;
    return i;
  };
  const closest = [...names].sort((a, b) => common(b) - common(a) || (a < b ? -1 : a > b ? 1 : 0)).slice(0, 3);
  return `. It has ${names.length} tensor${names.length === 1 ? '' : 's'}; the closest names are ${closest.map((n) => JSON.stringify(n)).join(', ')}.`;
}
