/** Reads the box agent back out of its SSM document, the way the box's sh and the installer read it. */
import { gunzipSync } from 'node:zlib';
import type { TerraformJson } from './synth';

/** The document content as SSM receives it: Terraform reads `$${` and `%%{` back as `${` and `%{`. */
export function agentDocumentContent(json: TerraformJson): string {
  const documents = Object.values(json.resource.aws_ssm_document ?? {});
  if (documents.length !== 1) throw new Error(`expected one aws_ssm_document, found ${documents.length}`);
  return String(documents[0].content).replace(/([$%])\1\{/g, '$1{');
}

/** The manifest lines of a document, from its runCommand as the box's sh reads the here-document. */
export function manifestOf(content: string): string[] {
  const lines: string[] = JSON.parse(content).mainSteps[0].inputs.runCommand;
  const start = lines.indexOf(`cat >"$work/manifest" <<'TRAINIUM_SPOT_MANIFEST'`);
  const end = lines.indexOf('TRAINIUM_SPOT_MANIFEST');
  if (start < 0 || end < start) throw new Error('the document carries no manifest');
  return lines.slice(start + 1, end);
}

/** The files a document installs: path, mode and content as they land on the box. */
export function filesOf(content: string): { path: string; mode: string; content: string }[] {
  return manifestOf(content).filter((line) => line.startsWith('file ')).map((line) => {
    const [, filePath, mode, packed] = line.split(' ');
    return { path: filePath, mode, content: gunzipSync(Buffer.from(packed, 'base64')).toString('utf8') };
  });
}

export function fileOnBox(content: string, filePath: string): string {
  const file = filesOf(content).find((f) => f.path === filePath);
  if (!file) throw new Error(`the document installs no ${filePath}`);
  return file.content;
}
