import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { dockerInstructions, imageCopies, imageSources, inImage } from './image-files.js';

describe('imageCopies', () => {
  it('keeps the final stage\'s COPY and ADD sources from the context, not COPY --from', () => {
    const dockerfile = [
      'FROM node:18 AS builder',
      'COPY . .',
      'FROM nginx:1.27-alpine',
      '# a comment',
      'COPY nginx.https.conf /etc/nginx/conf.d/default.conf',
      'COPY --from=builder /app/build /usr/share/nginx/html',
      'COPY --chmod=755 update-env.sh \\',
      '     /docker-entrypoint.d/40-update-env.sh',
      'ADD ["a.txt", "b.txt", "/dest/"]',
    ].join('\n');
    expect(imageCopies(dockerfile, 'frontend')).toEqual({
      from: 'nginx:1.27-alpine',
      sources: ['frontend/nginx.https.conf', 'frontend/update-env.sh', 'frontend/a.txt', 'frontend/b.txt'],
    });
  });

  it('reads paths relative to the context, the whole context for `.`, and the copy-if-present idiom', () => {
    expect(imageCopies('FROM x\nCOPY ./chatbot /app/chatbot\nCOPY . /app\nCOPY migration[s]/ /tmp/', '.').sources).toEqual(['chatbot', '', 'migrations']);
    expect(dockerInstructions('RUN a \\\n  b\n\n# c')).toEqual(['RUN a    b']);
  });
});

describe('imageSources', () => {
  const tree = fileURLToPath(new URL('fixtures/sting-ce/STING', import.meta.url));

  it('reads the Dockerfile from the tree, and undefined when the tree has none', () => {
    expect(imageSources(tree, { context: '.', dockerfile: 'app/Dockerfile.app' })).toEqual(['conf', 'app']);
    expect(imageSources(tree, { context: 'llm_service', dockerfile: 'llm_service/Dockerfile.phi3' })).toBeUndefined();
  });

  it('tells files in the image from files outside it', () => {
    expect(inImage('app/run.py', ['conf', 'app'])).toBe(true);
    expect(inImage('application/run.py', ['conf', 'app'])).toBe(false);
    expect(inImage('scripts/tool.py', ['conf', 'app'])).toBe(false);
    expect(inImage('anything.py', [''])).toBe(true);
  });
});
