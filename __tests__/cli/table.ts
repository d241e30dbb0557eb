/** Reads the CLI's bordered tables back into cells, so tests can assert one column of one row. */

/** The rows of the first table in `text`, each as header -> trimmed cell. */
export function tableRows(text: string): Record<string, string>[] {
  const lines = text.split('\n').filter((line) => line.startsWith('|'));
  const cells = (line: string) => line.slice(1, -1).split('|').map((cell) => cell.trim());
  const [header, ...rows] = lines;
  if (header === undefined) throw new Error(`no table in:\n${text}`);
  const names = cells(header);
  return rows.map((row) => Object.fromEntries(cells(row).map((cell, i) => [names[i], cell])));
}

/** The cell under `column` in the row whose first cell is `key`. */
export function tableCell(text: string, key: string, column: string): string {
  const row = tableRows(text).find((r) => Object.values(r)[0] === key);
  if (!row) throw new Error(`no row ${key} in:\n${text}`);
  if (!(column in row)) throw new Error(`no column ${column} in:\n${text}`);
  return row[column];
}
