// Does what cloud-init's write_files does with the compute node's user data, into a directory standing for /:
//   ts-node node-user-data-root.ts ROOT PROPS-JSON      (PROPS-JSON: NodeUserDataProps, from src/cluster/node-user-data.ts)
// Each file is decoded as its `encoding` says (gz+b64 or plain) and given its `permissions`; the runcmd entries are
// printed, one a line, for the test to run as cloud-init would.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parse } from 'yaml';
import { renderNodeUserData } from '../../src/cluster/node-user-data';

interface WriteFile { path: string; permissions: string; encoding?: string; content: string }

const [root, json] = process.argv.slice(2);
const config = parse(renderNodeUserData(JSON.parse(json))) as { write_files: WriteFile[]; runcmd: string[][] };
for (const file of config.write_files) {
  const target = path.join(root, file.path);
  mkdirSync(path.dirname(target), { recursive: true });
  if (file.encoding !== undefined && file.encoding !== 'gz+b64') throw new Error(`unexpected encoding ${file.encoding}`);
  writeFileSync(target, file.encoding === 'gz+b64' ? gunzipSync(Buffer.from(file.content, 'base64')) : file.content);
  chmodSync(target, parseInt(file.permissions, 8));
}
for (const command of config.runcmd) console.log(command.join(' '));
