/** Connections a parallel transfer opens first; `planConnections` decides whether more follow. */
export const FIRST_CONNECTIONS = 2;

/**
 * A connection at least this fast (128 MiB/s, about 1 Gbit/s) is left alone with its sibling:
 * two such already carry more than most links, and each further connection costs CPU (more
 * sockets, ranges finishing out of order for the hash to wait on) that a fast link needs for the
 * copy and the hash.
 */
export const FAST_CONNECTION_BYTES_PER_SECOND = 128 * 1024 * 1024;

/** The last time connections were added: how many were open before, and what they brought together. */
export interface RampStep {
  open: number;
  bytesPerSecond: number;
}

/**
 * More connections must bring at least this much more (25 %), or the limit is not per
 * connection: it is the CPU (TLS, the copy and the hash on a small machine) or the link, and
 * further connections would only cost CPU and memory.
 */
export const RAMP_GAIN = 1.25;

/**
 * How many connections a parallel transfer should have open, given how many are open, the bytes
 * per second they received together over the last interval, and the last step that added
 * connections. CDNs hold each connection to a rate well below what the link carries, so while the
 * connections are slow their number doubles, up to `max`, as long as the last doubling paid off;
 * once each is fast, or once doubling brought no gain, it stays. It never shrinks: a range once
 * started runs to its end.
 */
export function planConnections(open: number, max: number, bytesPerSecond: number, last?: RampStep): number {
  if (open >= max) return open;
  if (bytesPerSecond / open >= FAST_CONNECTION_BYTES_PER_SECOND) return open;
  if (last && last.open < open && bytesPerSecond < last.bytesPerSecond * RAMP_GAIN) return open;
  return Math.min(max, open * 2);
}
