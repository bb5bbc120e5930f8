import { describe, expect, it } from 'vitest';
import { planGateway } from '../../../src/gateway/plan.js';
import { renderGatewayConfig } from '../../../src/gateway/render.js';
import { block, makeConfig, makeRecommendation, TYPICAL_MODELS } from './helpers.js';

function render(llm: Record<string, unknown>, tooBig: string[] = []) {
  const config = makeConfig(llm);
  return renderGatewayConfig(planGateway(config.llm, makeRecommendation(config, tooBig)));
}

describe('renderGatewayConfig', () => {
  it('renders the typical config (snapshot)', async () => {
    const conf = render({ models: TYPICAL_MODELS, gateway: { cache_chat_ttl: '2m' } }, ['llama3']);
    await expect(conf).toMatchFileSnapshot('__snapshots__/typical.nginx.conf');
  });

  it('renders the same bytes for the same input', () => {
    const llm = { models: TYPICAL_MODELS };
    expect(render(llm, ['llama3'])).toBe(render(llm, ['llama3']));
  });

  it('routes exactly the models that are enabled and fit, by name and repository id', () => {
    const conf = render({ models: TYPICAL_MODELS }, ['llama3']);
    const routes = block(conf, 'map $msting_model $msting_upstream');
    expect(routes).toEqual([
      'default msting_unavailable;',
      '"" model_phi3;',
      '\\phi3 model_phi3;',
      '\\microsoft/phi-3-medium-128k-instruct model_phi3;',
      '\\zephyr model_zephyr;',
      '\\huggingfaceh4/zephyr-7b-beta model_zephyr;',
    ]);
    expect(conf).not.toMatch(/upstream model_llama3|upstream model_mistral/);
    expect(conf).toContain('return 200 \'{"object":"list","data":[{"id":"phi3","object":"model","owned_by":"sting-ce"},{"id":"zephyr","object":"model","owned_by":"sting-ce"}]}\';');
  });

  it('balances the replicas of a model with least_conn and takes failing ones out', () => {
    const conf = render({ models: TYPICAL_MODELS }, ['llama3']);
    expect(block(conf, 'upstream model_phi3')).toEqual([
      'zone model_phi3 64k;',
      'least_conn;',
      'server phi3:8000 max_fails=2 fail_timeout=30s;',
      'server phi3-2:8000 max_fails=2 fail_timeout=30s;',
      'keepalive 16;',
    ]);
    expect(conf).toContain('proxy_next_upstream error timeout http_502 http_503;');
  });

  it('explains in the 404 why each configured model is not available', () => {
    const conf = render({ models: TYPICAL_MODELS }, ['llama3']);
    const messages = block(conf, 'map $http_x_msting_model $msting_unavailable_message').join('\n');
    expect(messages).toContain("\\llama3 'Model llama3 is not started: it does not fit the memory of this machine (see msting hardware). Available models: phi3, zephyr.';");
    expect(messages).toContain("\\mistral 'Model mistral is disabled in config.yml (llm.models[].enabled). Available models: phi3, zephyr.';");
    expect(conf).toContain('"available":["phi3","zephyr"],"default_model":"phi3"');
  });

  it('sends requests naming no model to 404 when the default model is not available', () => {
    const conf = render({ models: TYPICAL_MODELS, default_model: 'llama3' }, ['llama3']);
    expect(block(conf, 'map $msting_model $msting_upstream')).toContain('"" msting_unavailable;');
    expect(conf).toContain('No model was named and the default model llama3 is not available. Available models: phi3, zephyr.');
  });

  it('caches embeddings by default and chat only when cache_chat_ttl is set', () => {
    const defaults = render({ models: TYPICAL_MODELS });
    expect(defaults).toContain('proxy_cache_valid 200 600s;');
    expect(block(defaults, 'map "$msting_stream|$msting_upstream" $msting_embeddings_target')).toEqual(['default $msting_upstream;', '"~^0\\|model_" msting_cache;']);
    expect(block(defaults, 'map "$msting_stream|$msting_upstream" $msting_chat_target')).toEqual(['default $msting_upstream;']);

    const chat = render({ models: TYPICAL_MODELS, gateway: { cache_chat_ttl: '90s' } });
    expect(chat).toContain('proxy_cache_valid 200 90s;');
    expect(block(chat, 'map "$msting_stream|$msting_upstream" $msting_chat_target')).toContain('"~^0\\|model_" msting_cache;');
  });

  it('has no cache at all when both lifetimes are 0', () => {
    const conf = render({ models: TYPICAL_MODELS, gateway: { cache_embeddings_ttl: '0' } });
    expect(conf).not.toContain('proxy_cache_path');
    expect(conf).not.toContain('msting_cache;');
    expect(conf).not.toContain('listen 127.0.0.1:8079');
  });

  it('limits each client to the configured rate and burst, with Retry-After on 429', () => {
    const conf = render({ models: TYPICAL_MODELS, gateway: { rate: '30r/m', burst: 3 } });
    expect(conf).toContain('limit_req_zone $binary_remote_addr zone=ai:10m rate=30r/m;');
    expect(conf).toContain('limit_req zone=ai burst=3 nodelay;');
    expect(conf).toContain('limit_req_status 429;');
    expect(block(conf, 'location @msting_rate_limited')[0]).toBe('add_header Retry-After 2 always;');
  });

  it('waits as long as read_timeout for a model, unbuffered, over HTTP/1.1', () => {
    const conf = render({ models: TYPICAL_MODELS, gateway: { read_timeout: '10m' } });
    expect(conf).toContain('proxy_read_timeout 600s;');
    expect(conf).toContain('proxy_buffering off;');
    expect(conf).toContain('proxy_http_version 1.1;');
  });

  it('reads model names that spell map parameters literally', () => {
    const conf = render({
      default_model: 'default',
      models: [
        { name: 'default', repo: 'org/a' },
        { name: 'include', repo: 'org/b' },
        { name: 'hostnames', repo: 'org/c' },
        { name: 'volatile', repo: 'org/d', enabled: false },
      ],
    });
    const routes = block(conf, 'map $msting_model $msting_upstream');
    expect(routes).toEqual(expect.arrayContaining(['"" model_default;', '\\default model_default;', '\\include model_include;', '\\hostnames model_hostnames;']));
    expect(routes.filter((l) => /^(default|include|hostnames|volatile)\b/.test(l))).toEqual(['default msting_unavailable;']);
  });

  it('writes map keys so nginx does not read a name starting with t, n or r as \\t, \\n or \\r', () => {
    const conf = render({
      default_model: 'tinyllama',
      models: [
        { name: 'tinyllama', repo: 'TinyLlama/TinyLlama-1.1B-Chat-v1.0' },
        { name: 'nemotron', repo: 'nvidia/Nemotron-Mini-4B-Instruct' },
        { name: 'rwkv', repo: 'RWKV/rwkv-6-world-1b6', enabled: false },
      ],
    });
    expect(block(conf, 'map $msting_model $msting_upstream')).toEqual([
      'default msting_unavailable;',
      '"" model_tinyllama;',
      '\\\\tinyllama model_tinyllama;',
      '\\\\tinyllama/tinyllama-1.1b-chat-v1.0 model_tinyllama;',
      '\\\\nemotron model_nemotron;',
      '\\\\nvidia/nemotron-mini-4b-instruct model_nemotron;',
    ]);
    expect(block(conf, 'map $http_x_msting_model $msting_unavailable_message')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\\\\rwkv 'Model rwkv is disabled/), expect.stringMatching(/^\\\\rwkv\/rwkv-6-world-1b6 'Model rwkv\/rwkv-6-world-1b6 is disabled/)]),
    );
  });

  it('renders the state directory it is given', () => {
    const config = makeConfig({ models: TYPICAL_MODELS });
    const conf = renderGatewayConfig(planGateway(config.llm, makeRecommendation(config)), { stateDir: '/var/lib/nginx', listenPort: 9000 });
    expect(conf).toContain('proxy_cache_path /var/lib/nginx/msting-gateway-cache ');
    expect(conf).toContain('listen 9000 default_server;');
  });
});
