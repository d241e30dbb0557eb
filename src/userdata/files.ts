/**
 * Finds the real files of src/userdata/ at synth time. `__dirname` is src/userdata under ts-node and
 * jest but dist/ once esbuild bundles the app into dist/main.js, so the files are located from the
 * package root, the nearest directory above whose package.json is trainium-spot's.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

export const PACKAGE_NAME = 'trainium-spot';

/** The nearest directory at or above `fromDir` whose package.json has `"name": "trainium-spot"`. */
export function packageRoot(fromDir: string = __dirname): string {
  for (let dir = path.resolve(fromDir); ; dir = path.dirname(dir)) {
    if (isOurPackage(dir)) return dir;
    if (path.dirname(dir) === dir) {
      throw new Error(`cannot find the package.json of ${PACKAGE_NAME} at or above ${fromDir}; ` +
        'the user data files are read from src/userdata/ beside it');
    }
  }
}

function isOurPackage(dir: string): boolean {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === PACKAGE_NAME;
  } catch {
    return false;
  }
}

/** The text of `src/userdata/<file>`. */
export function readUserdataFile(file: string, fromDir: string = __dirname): string {
  return fs.readFileSync(path.join(packageRoot(fromDir), 'src', 'userdata', file), 'utf8');
}

/** The version in trainium-spot's package.json: what the agent records as installed. */
export function packageVersion(fromDir: string = __dirname): string {
  return JSON.parse(fs.readFileSync(path.join(packageRoot(fromDir), 'package.json'), 'utf8')).version as string;
}

/** `src/userdata/<file>` with its `@KEY@` placeholders filled; a placeholder left over is a bug of ours. */
export function fillTemplate(file: string, values: Readonly<Record<string, string>>): string {
  const text = readUserdataFile(file).replace(/@([A-Z_]+)@/g, (whole, key: string) => values[key] ?? whole);
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`src/userdata/${file}: no value for the placeholder ${left[0]}`);
  return text;
}
