/** Text tables of `paceline status`. Pure. */

/** Cells padded into columns, two spaces apart, trailing blanks cut. */
export function alignTable(head: readonly string[], cells: ReadonlyArray<readonly string[]>): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)));
  const line = (c: readonly string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i] as number))
      .join('  ')
      .trimEnd();
  return [line(head), ...cells.map(line)];
}
