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
