import { setFlagsFromString } from 'node:v8';

/**
 * The only WebAssembly msting runs is undici's HTTP parser, used by the Hub client and the
 * downloader. V8 would also recompile it with its optimizing tier in the background, and a
 * process cannot exit before that finishes: ~50 ms of CPU and of delay on every command that
 * fetches, for a parser that only reads headers. Imported first by every module that imports
 * undici, so the flag is set before the parser is compiled, and only in commands that fetch
 * (node:v8 alone costs every other command a few milliseconds of start-up).
 */
setFlagsFromString('--liftoff-only');
