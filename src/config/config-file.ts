import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import type { YAMLError } from 'yaml';
import { InvalidOptionError, RunConfigError } from '../errors.js';

/** Where a YAML problem is, and what it is: prettyErrors puts an excerpt after the position, dropped here. */
function describeYamlProblem(problem: YAMLError): string {
  const start = problem.linePos?.[0];
  const where = start === undefined ? '' : ` at line ${start.line}, column ${start.col}`;
  const message = problem.message.replace(/ at line \d+, column \d+:[\s\S]*$/, '');
  return problem.name === 'YAMLWarning'
    ? `the YAML${where} is not supported: ${message}`
    : `the file is not valid YAML${where}: ${message}`;
}

function parseYaml(text: string, file: string): unknown {
  // Loaded for a YAML file only: JSON configs do not pay for the parser.
  const { parseDocument } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const document = parseDocument(text, { merge: true, prettyErrors: true, logLevel: 'error' });
  const problems = [...document.errors, ...document.warnings];
  if (problems.length > 0) throw new RunConfigError(file, problems.map(describeYamlProblem));
  try {
    return document.toJS();
  } catch (error) {
    // Aliases resolve here: one whose anchor is missing, or so many that they look like an attack.
    throw new RunConfigError(file, [`the file is not valid YAML: ${(error as Error).message}`]);
  }
}

function parseJson(text: string, file: string, extension: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const hint = extension === '.json' ? '' : ' (only .yaml and .yml files are read as YAML)';
    throw new RunConfigError(file, [`the file is not valid JSON${hint}: ${(error as Error).message}`]);
  }
}

/** A config file's content: YAML if its name ends in .yaml or .yml, JSON otherwise. */
export function readConfigFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new RunConfigError(file, [
      new InvalidOptionError('--config', 'a readable file', `${file} (${(error as Error).message})`).message,
    ]);
  }
  return parseConfigText(text, file);
}

/** A config file's content from its text, already read: YAML if `file` ends in .yaml or .yml, JSON otherwise. */
export function parseConfigText(text: string, file: string): unknown {
  const extension = extname(file).toLowerCase();
  return extension === '.yaml' || extension === '.yml'
    ? parseYaml(text, file)
    : parseJson(text, file, extension);
}
