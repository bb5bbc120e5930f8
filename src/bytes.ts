/**
 * Byte counts as people read them, in binary units: "0 B", "546 B", "1.5 KiB", "7.9 GiB", "126 GiB".
 * Bytes are whole (a rate may be fractional); one decimal below 100 of a unit, none from 100 on,
 * where the decimal no longer tells a reader anything.
 */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(bytes)} B` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}
