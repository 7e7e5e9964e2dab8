import { z } from 'zod';
import { must } from '../option-schema.js';

/** Quoted into CREATE TABLE and INSERT statements, so nothing but an identifier gets through. */
const SQL_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
const EXPECTATION = must('an SQL identifier (letters, digits and _, not starting with a digit, at most 63)');

export const sqlIdentifier = () => z.string(EXPECTATION).regex(SQL_IDENTIFIER, EXPECTATION);
