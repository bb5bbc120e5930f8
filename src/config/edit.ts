import { isScalar, isSeq, parseDocument, stringify, type Document } from 'yaml';
import { MstingError } from '../errors.js';
import { parseConfigText, YAML_OPTIONS } from './document.js';
import { assertKnownKey, expectsList, parseKey, valueAtKey } from './keys.js';
import { configInvalidError, formatPath, type ConfigProblem, type KeyPath } from './problems.js';
import { configSchema } from './schema.js';
import { validateConfigText } from './validate.js';

export interface SetValueResult {
  /** The new file content: the old one with one value changed, comments and layout kept. */
  text: string;
  /** The value written (parsed from YAML), or null when the key was removed. */
  value: unknown;
  warnings: ConfigProblem[];
}

/**
 * Parse VALUE the way YAML would read it after `key: `: 8443 is a number, true a boolean,
 * "8443" a string; `null` or an empty string remove the key so its default applies again.
 */
export function parseValue(raw: string): unknown {
  const doc = parseDocument(raw, YAML_OPTIONS);
  if (doc.errors.length > 0) {
    throw new MstingError('USAGE', `the value is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`, {
      hint: 'quote text with special characters, for example \'"a: b"\'',
    });
  }
  return doc.toJS() ?? null;
}

/**
 * Set one key in config.yml text with the yaml Document API, so comments, order and layout
 * stay as the user wrote them. The whole result is validated before it is returned: an invalid
 * result throws CONFIG_INVALID and nothing is to be written. Pure: no file access.
 */
export function setConfigValue(text: string | undefined, key: string, rawValue: string, file: string): SetValueResult {
  const path = parseKey(key);
  assertKnownKey(path);
  const value = parseValue(rawValue);

  const doc = parseDocument(text ?? '', YAML_OPTIONS);
  if (doc.errors.length > 0) {
    throw configInvalidError(file, validateConfigText(text ?? '').errors);
  }
  if (doc.contents === null) doc.contents = doc.createNode({}) as unknown as Document.Parsed['contents'];

  const next = replaceScalarInPlace(text ?? '', doc, path, value) ?? editDocument(doc, path, value, text ?? '');
  const result = validateConfigText(next, { edit: { written: parseConfigText(text ?? ''), edited: path, source: 'msting config set' } });
  if (result.errors.length > 0) throw configInvalidError(file, result.errors);
  return { text: next, value, warnings: result.warnings };
}

/**
 * The common case, a scalar replaced by a scalar, is done on the text itself: only the old
 * value's characters change, so spacing before comments, quoting elsewhere and line breaks stay
 * byte for byte. Undefined when the edit needs the document API.
 */
function replaceScalarInPlace(text: string, doc: Document, path: KeyPath, value: unknown): string | undefined {
  if (value === null || typeof value === 'object') return undefined;
  const node = doc.getIn(path, true);
  if (!isScalar(node) || !node.range || node.anchor !== undefined) return undefined;
  const rendered = stringify(value, { lineWidth: 0 }).replace(/\n$/, '');
  if (rendered.includes('\n')) return undefined;
  const [start, end] = node.range;
  return text.slice(0, start) + rendered + text.slice(end);
}

function editDocument(doc: Document, path: KeyPath, value: unknown, original: string): string {
  materializeLists(doc, path);
  checkIndexes(doc, path);
  if (value === null) doc.deleteIn(path);
  else doc.setIn(path, value);
  return doc.toString({ lineWidth: 0, indentSeq: usesIndentedSequences(original) });
}

/**
 * A path through a list the file does not have yet (`llm.models.0.enabled` in a file without
 * `llm.models`) starts from the list's default, written out in full, so index 0 means what
 * `config get` shows.
 */
function materializeLists(doc: Document, path: KeyPath): void {
  for (let i = 1; i < path.length; i++) {
    const prefix = path.slice(0, i);
    if (!expectsList(prefix) || doc.hasIn(prefix)) continue;
    const defaults = valueAtKey(configSchema.parse({}), prefix);
    if (Array.isArray(defaults)) doc.setIn(prefix, doc.createNode(defaults));
    return;
  }
}

function checkIndexes(doc: Document, path: KeyPath): void {
  for (let i = 1; i < path.length; i++) {
    const list = doc.getIn(path.slice(0, i), true);
    if (!isSeq(list)) continue;
    const index = Number(path[i]);
    // Appending is allowed at exactly the end; anything further would leave a hole.
    if (index > list.items.length) {
      const name = formatPath(path.slice(0, i));
      throw new MstingError('CONFIG_KEY', `${name} has ${list.items.length} ${list.items.length === 1 ? 'entry' : 'entries'}; index ${index} is past the end`, {
        hint: `use an index from 0 to ${list.items.length - 1}, or ${list.items.length} to add an entry`,
      });
    }
  }
}

/** Keep the file's list style: `- item` under its key, or indented by two. */
function usesIndentedSequences(text: string): boolean {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const item = /^(\s*)- /.exec(lines[i]!);
    if (!item) continue;
    for (let j = i - 1; j >= 0; j--) {
      const previous = lines[j]!;
      if (previous.trim() === '' || previous.trim().startsWith('#')) continue;
      const key = /^(\s*)[^\s#-][^:]*:\s*$/.exec(previous);
      if (key) return item[1]!.length > key[1]!.length;
      break;
    }
  }
  return true;
}
