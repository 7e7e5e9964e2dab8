import { InvalidOptionError } from './errors.js';

/** Imports a module by its specifier: `import()` itself, or a stand-in in tests. */
export type Importer = (specifier: string) => Promise<unknown>;

const importModule: Importer = (specifier) => import(specifier);

/**
 * Imports `specifier`, an optional peer dependency that only `user` (e.g. `the postgres sink`)
 * needs, when `user` is first used: a process that never uses it never loads it, and an install
 * that left it out still runs everything else. Not installed: an InvalidOptionError
 * (SLUICE_INVALID_OPTION) naming the package and the command that installs `install` (the package
 * and what goes with it). Any other failure to load it is thrown as it is.
 */
export async function importOptional<Module>(
  specifier: string,
  user: string,
  install: readonly string[] = [specifier],
  importer: Importer = importModule,
): Promise<Module> {
  try {
    return (await importer(specifier)) as Module;
  } catch (error) {
    if (!isMissing(error, specifier)) throw error;
    throw new InvalidOptionError([
      `${user} needs the package '${specifier}', which is not installed: npm install ${install.join(' ')}`,
    ]);
  }
}

/**
 * Whether `error` says the package itself cannot be found — not a module it imports in turn, which
 * is a broken install of a package that is there.
 */
function isMissing(error: unknown, specifier: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false;
  return typeof message === 'string' && message.includes(`'${specifier}'`);
}
