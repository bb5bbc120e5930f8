// Loaded with `node --import` to record every module URL the process resolves (one per line) into
// the file named by MSTING_TRACE_IMPORTS. Used to prove that --help does not load heavy adapters.
import { register } from 'node:module';

register(new URL('./trace-imports-hooks.mjs', import.meta.url), { data: { file: process.env.MSTING_TRACE_IMPORTS } });
