import { SluiceError } from '../errors.js';

/** The config file is unusable; `errors` lists every problem, each naming the field and quoting the value. */
export class RunConfigError extends SluiceError {
  readonly errors: readonly string[];

  constructor(file: string, errors: readonly string[]) {
    super('SLUICE_INVALID_OPTION', `${file}: ${errors.join('; ')}`);
    this.errors = errors;
  }
}
