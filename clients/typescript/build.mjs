// `prepare`: compiles src/ to dist/ (ESM + .d.ts). Installed as a directory
// (`npm install ./clients/typescript`), npm runs this in the package's folder
// without its devDependencies, so the compiler is fetched first if missing.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const tsc = join(here, 'node_modules', 'typescript', 'bin', 'tsc');
if (!existsSync(tsc)) {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  execFileSync(npm, ['install', '--no-save', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: here,
    stdio: 'inherit',
  });
}
execFileSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { cwd: here, stdio: 'inherit' });
