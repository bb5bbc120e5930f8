import { Command, CommanderError, Option } from 'commander';
import { createContext, type Context, type GlobalOptions } from './context.js';
import { ExitCode, MstingError, isMstingError, usageError } from './errors.js';
import { createOutput, type Streams } from './ui/output.js';
import type { Operation } from './audit/operations.js';
import { BUILTIN_PROFILES } from './stack/names.js';
import { printable } from './config/quote.js';

/**
 * Declares commands and options only. Every action imports its command module lazily, so
 * `msting --help` and `--version` never load dockerode, node-vault, @huggingface/hub or
 * systeminformation.
 */

import { MSTING_VERSION as version } from './package-info.js';

/** A command module's entry: options in, exit code (or nothing for 0) out. */
export type CommandRun<O> = (options: O, ctx: Context) => Promise<number | void>;

export interface Runtime {
  streams: Streams;
  env: NodeJS.ProcessEnv;
  signal: AbortSignal;
  /** Set by the action that ran. */
  exitCode?: number;
  /**
   * Runs a command instead of loading its module: the argv table test sees the options each
   * command would receive without starting any of them.
   */
  dispatch?: (command: string, options: unknown, ctx: Context) => Promise<number | void>;
}

/**
 * Every command that runs something is created through this class, so the registry of runnable
 * commands is the program itself (`runnableCommands`), not a list kept beside it by hand.
 */
class RegisteredCommand extends Command {
  runnable = false;

  override createCommand(name?: string): RegisteredCommand {
    return new RegisteredCommand(name);
  }

  override action(fn: (this: this, ...args: unknown[]) => void | Promise<void>): this {
    this.runnable = true;
    return super.action(fn);
  }
}

/** The space-separated path of every command with an action (`backup verify`, `start`), in declaration order. */
export function runnableCommands(program: Command): string[] {
  const paths: string[] = [];
  const walk = (cmd: Command, prefix: string[]): void => {
    for (const sub of cmd.commands) {
      const path = [...prefix, sub.name()];
      if (sub instanceof RegisteredCommand && sub.runnable) paths.push(path.join(' '));
      walk(sub, path);
    }
  };
  walk(program, []);
  return paths;
}

function examples(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

const PROFILE_HELP = `profile: ${BUILTIN_PROFILES.join(', ')} or one from config.yml \`profiles\``;

/** Option values as commander parsed them; read through the typed readers below, never cast. */
type Opts = Record<string, unknown>;

function text(o: Opts, key: string): string | undefined {
  const value = o[key];
  return typeof value === 'string' ? value : undefined;
}

function count(o: Opts, key: string): number | undefined {
  const value = o[key];
  return typeof value === 'number' ? value : undefined;
}

/** A number option declared with a default, so commander always sets it. */
function defaulted(o: Opts, key: string): number {
  const value = count(o, key);
  if (value === undefined) throw new Error(`option ${key} has no default`);
  return value;
}

/** A variadic argument (`[service...]`): the words given, or none. */
function words(arg: unknown): string[] {
  return Array.isArray(arg) ? arg.map(String) : [];
}

/** An optional positional argument. */
function maybe(arg: unknown): string | undefined {
  return typeof arg === 'string' ? arg : undefined;
}

// Options several commands share, declared once.

const profileOption = (): Option => new Option('-p, --profile <profile>', PROFILE_HELP);

/** `--timeout SECONDS` with what it waits for and its default. */
const timeoutOption = (waitsFor: string, seconds: number): Option =>
  new Option('--timeout <seconds>', `how long to wait for ${waitsFor}`).argParser(positiveInt('--timeout')).default(seconds);

/** `--bundle FILE`: images and models from an offline bundle (docs/bundle.md); nothing is pulled or downloaded. */
const bundleOption = (): Option => new Option('--bundle <file>', 'take images and models from this offline bundle: nothing is pulled or downloaded');

const passphraseFileOption = (): Option => new Option('--passphrase-file <file>', 'read the passphrase from this file (or set MSTING_BACKUP_PASSPHRASE)');

/** The backup key (`--key-file`): an archive's key, never Vault's unseal shares (`unseal --shares-file`). */
const backupKeyFileOption = (help = 'backup key file (default <home>/secrets/backup.key)'): Option => new Option('--key-file <file>', help);

/** The replacement named when an old spelling is used; the old option keeps working, hidden from help. */
const replacements = new WeakMap<Option, string>();

function deprecatedOption(flags: string, replacement: string): Option {
  const option = new Option(flags).hideHelp();
  replacements.set(option, replacement);
  return option;
}

/** How the files `backup verify|decrypt` and `restore` open an archive with. */
function archiveKeys(o: Opts, parent?: Opts): { passphraseFile: string | undefined; keyFile: string | undefined } {
  return {
    passphraseFile: text(o, 'passphraseFile') ?? (parent && text(parent, 'passphraseFile')),
    keyFile: text(o, 'keyFile') ?? (parent && text(parent, 'keyFile')),
  };
}

function positiveInt(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n <= 0) {
      throw usageError(`${name} expects a positive whole number, got "${value}"`, `for example: ${name} 60`);
    }
    return n;
  };
}

export function buildProgram(runtime: Runtime, onContext: (ctx: Context) => void): Command {
  const program = new RegisteredCommand('msting');
  let exitCode: number = ExitCode.ok;

  /** Bind a lazily loaded command module to a commander action. */
  const action =
    <O>(load: () => Promise<{ run: CommandRun<O> }>, pick: (args: unknown[], opts: Opts) => O) =>
    async (...args: unknown[]): Promise<void> => {
      const cmd = args.at(-1) as Command;
      const all = cmd.optsWithGlobals() as GlobalOptions & Opts;
      const ctx = createContext(all, runtime.streams, runtime.env, runtime.signal);
      await ctx.out.prepare();
      onContext(ctx);
      warnDeprecated(cmd, ctx);
      const operation = describeOperation(cmd, args.slice(0, -2));
      const dispatch = runtime.dispatch;
      const run: CommandRun<O> = dispatch ? (options, c) => dispatch(operation.command, options, c) : (await load()).run;
      try {
        const code = await run(pick(args.slice(0, -2), cmd.opts()), ctx);
        exitCode = typeof code === 'number' ? code : ExitCode.ok;
      } catch (err) {
        await record(ctx.home, runtime.env, operation, { exitCode: isMstingError(err) ? err.exitCode : ExitCode.failure, error: err });
        throw err;
      }
      await record(ctx.home, runtime.env, operation, { exitCode });
    };

  program
    .name('msting')
    .description('Install and operate STING-CE, the self-hosted AI assistant stack, from one config.yml.')
    .version(version, '-V, --version', 'print the msting version')
    .option('--home <dir>', 'install directory (env MSTING_HOME; default /opt/sting-ce as root on Linux, else ~/.sting-ce)')
    .option('--config <file>', 'config file (default <home>/conf/config.yml)')
    .option('--json', 'print one JSON document (or NDJSON events) on stdout', false)
    .option('-y, --yes', 'never prompt; answer yes to confirmations', false)
    .option('--verbose', 'more detail, and stack traces on errors', false)
    .option('--no-color', 'no colour in output')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({
      writeOut: (s) => runtime.streams.stdout.write(s),
      writeErr: (s) => runtime.streams.stderr.write(s),
    })
    .exitOverride()
    .addHelpText(
      'after',
      examples(['sudo msting install', 'msting start --profile full', 'msting status --json', 'msting config render --profile observability']),
    );

  const config = program.command('config').description('create, check, show and render config.yml');
  config
    .command('init')
    .description('write a commented starter config.yml (never over an existing one without --force)')
    .option('--force', 'replace an existing config.yml', false)
    .addHelpText('after', examples(['msting config init', 'msting --home ./sting config init --force']))
    .action(action(() => import('./commands/config-init.js'), (_a, o) => ({ force: Boolean(o.force) })));
  config
    .command('import')
    .description('write config.yml from a STING-CE conf/config.yml and report every key mapped or dropped')
    .argument('<file>', 'the STING-CE config.yml (its install\'s conf/config.yml)')
    .option('--force', 'replace an existing config.yml (the old one is kept as config.yml.bak)', false)
    .option('-o, --output <file>', 'write the config here instead of <home>/conf/config.yml; - prints it on stdout')
    .addHelpText(
      'after',
      examples(['msting config import /opt/sting-ce-old/conf/config.yml', 'msting config import sting/conf/config.yml --output - > config.yml', 'msting config import old.yml --json']),
    )
    .action(
      action(() => import('./commands/config-import.js'), (a, o) => ({
        file: String(a[0]),
        force: Boolean(o.force),
        output: text(o, 'output'),
      })),
    );
  config
    .command('validate')
    .description('check config.yml and report every problem with its line and column')
    .addHelpText('after', examples(['msting config validate', 'msting config validate --json']))
    .action(action(() => import('./commands/config-validate.js'), () => ({})));
  config
    .command('show')
    .description('print the effective config (defaults applied, secrets masked)')
    .addHelpText('after', examples(['msting config show', 'msting config show --json']))
    .action(action(() => import('./commands/config-show.js'), () => ({})));
  config
    .command('get')
    .description('print one value of the effective config')
    .argument('<key>', 'dotted key path, e.g. ports.frontend or llm.models.0.repo')
    .addHelpText('after', examples(['msting config get ports.frontend', 'msting config get images.registry']))
    .action(action(() => import('./commands/config-get.js'), (a) => ({ key: String(a[0]) })));
  config
    .command('set')
    .description('set one value in config.yml, keeping comments and layout')
    .argument('<key>', 'dotted key path')
    .argument('<value>', 'the value (parsed as YAML: 8443, true, "text")')
    .addHelpText('after', examples(['msting config set ports.frontend 8443', 'msting config set hostname sting.example.com']))
    .action(action(() => import('./commands/config-set.js'), (a) => ({ key: String(a[0]), value: String(a[1]) })));
  config
    .command('path')
    .description('print where config.yml and the install directory are')
    .action(action(() => import('./commands/config-path.js'), () => ({})));
  config
    .command('render')
    .description('write the compose file, env files and service configs without starting anything')
    .addOption(profileOption())
    .option('-o, --output <dir>', 'write into this directory instead of the install directory')
    .addHelpText('after', examples(['msting config render', 'msting config render --profile full --output ./out']))
    .action(
      action(() => import('./commands/config-render.js'), (_a, o) => ({
        profile: text(o, 'profile'),
        output: text(o, 'output'),
      })),
    );

  program
    .command('install')
    .description('preflight, directories, config, hardware, render, images, Vault, start, models; resumable')
    .addOption(profileOption())
    .option('--dry-run', 'print the plan and touch nothing', false)
    .option('--skip-models', 'do not download models', false)
    .option('--force', 'install although memory or disk is below what the profile needs', false)
    .addOption(bundleOption())
    .addOption(timeoutOption('each group of services to become healthy', 600))
    .addHelpText('after', examples(['sudo msting install', 'msting install --profile full --yes', 'msting install --dry-run', 'sudo msting install --bundle sting-ce-bundle-default-0.1.0.tar']))
    .action(
      action(() => import('./commands/install.js'), (_a, o) => ({
        profile: text(o, 'profile'),
        dryRun: Boolean(o.dryRun),
        skipModels: Boolean(o.skipModels),
        force: Boolean(o.force),
        bundle: text(o, 'bundle'),
        timeout: defaulted(o, 'timeout'),
      })),
    );

  program
    .command('start')
    .description('start services in dependency order and wait until healthy')
    .argument('[service...]', 'services to start (default: the whole profile)')
    .addOption(profileOption())
    .addOption(timeoutOption('health', 300))
    .addHelpText('after', examples(['msting start', 'msting start --profile full', 'msting start app frontend --timeout 120']))
    .action(
      action(() => import('./commands/start.js'), (a, o) => ({
        services: words(a[0]),
        profile: text(o, 'profile'),
        timeout: defaulted(o, 'timeout'),
      })),
    );
  program
    .command('stop')
    .description('stop services gracefully (a service and what depends on it)')
    .argument('[service...]', 'services to stop (default: all)')
    .addHelpText('after', examples(['msting stop', 'msting stop app']))
    .action(action(() => import('./commands/stop.js'), (a) => ({ services: words(a[0]) })));
  program
    .command('restart')
    .description('restart services and wait until healthy')
    .argument('[service...]', 'services to restart (default: all)')
    .addHelpText('after', examples(['msting restart', 'msting restart kratos']))
    .action(action(() => import('./commands/restart.js'), (a) => ({ services: words(a[0]) })));
  program
    .command('status')
    .description('every service: state, health, ports, image, uptime; Vault sealed or not; URLs')
    .addHelpText('after', examples(['msting status', 'msting status --json']))
    .action(action(() => import('./commands/status.js'), () => ({})));
  program
    .command('logs')
    .description('show service logs, interleaved with a name prefix')
    .argument('[service...]', 'services (default: all)')
    .option('-f, --follow', 'keep following', false)
    .option('--tail <n>', 'lines from the end of each log', positiveInt('--tail'))
    .option('--since <time>', 'only newer than this (e.g. 10m, 2024-01-01T00:00:00)')
    .addHelpText('after', examples(['msting logs app -f', 'msting logs --tail 100 db kratos']))
    .action(
      action(() => import('./commands/logs.js'), (a, o) => ({
        services: words(a[0]),
        follow: Boolean(o.follow),
        tail: count(o, 'tail'),
        since: text(o, 'since'),
      })),
    );
  program
    .command('update')
    .description('pull or build new images, then recreate only what changed, with a backup first and rollback on failure')
    .argument('[service...]', 'services to update (default: all)')
    .option('--plan', 'show what would change and stop', false)
    .option('--no-backup', 'skip the automatic backup before updating')
    .addOption(bundleOption())
    .addOption(timeoutOption('each recreated service to become healthy', 300))
    .addHelpText('after', examples(['msting update --plan', 'msting update app', 'msting update --bundle sting-ce-bundle-default-0.2.0.tar']))
    .action(
      action(() => import('./commands/update.js'), (a, o) => ({
        services: words(a[0]),
        plan: Boolean(o.plan),
        backup: o.backup !== false,
        bundle: text(o, 'bundle'),
        timeout: defaulted(o, 'timeout'),
      })),
    );

  program
    .command('hardware')
    .description('CPU, RAM, GPUs, disk, Docker GPU runtime, and the recommendation with its reasons')
    .addHelpText('after', examples(['msting hardware', 'msting hardware --json']))
    .action(action(() => import('./commands/hardware.js'), () => ({})));

  const images = program.command('images').description('the STING-CE images: what each service runs, and pushing them to a registry');
  images
    .command('list')
    .description("each service's image: present on this host or not, its id and registry digest")
    .addOption(profileOption())
    .addHelpText('after', examples(['msting images list', 'msting images list --profile full --json']))
    .action(action(() => import('./commands/images-list.js'), (_a, o) => ({ profile: text(o, 'profile') })));
  images
    .command('push')
    .description('tag and push the profile\'s STING-CE images to a registry, as <registry>/sting-ce-<service>:<version>, for other hosts to pull')
    .requiredOption('--registry <registry>', 'host[:port]/path to push to (what the other hosts set as images.registry)')
    .addOption(profileOption())
    .addHelpText('after', examples(['msting images push --registry registry.example.com:5000/sting', 'msting images push --registry 127.0.0.1:5000/sting --profile full --json']))
    .action(action(() => import('./commands/images-push.js'), (_a, o) => ({ registry: String(o.registry), profile: text(o, 'profile') })));
  const swarm = program.command('swarm').description('Docker Swarm nodes (orchestrator: swarm; see docs/swarm.md)');
  swarm
    .command('nodes')
    .description('the nodes with role, state, labels, resources, and what the hardware recommendation says for each')
    .addHelpText('after', examples(['msting swarm nodes', 'msting swarm nodes --json']))
    .action(action(() => import('./commands/swarm-nodes.js'), () => ({})));
  swarm
    .command('label')
    .description('label a node for the model services (sting.gpu=true), or remove the label')
    .argument('<node>', 'hostname or id of the node')
    .option('--gpu', 'label it sting.gpu=true: the model services run there')
    .option('--no-gpu', 'remove the label')
    .addHelpText('after', examples(['msting swarm label gpu-box-1 --gpu', 'msting swarm label gpu-box-1 --no-gpu']))
    .action(
      action(() => import('./commands/swarm-label.js'), (a, o) => {
        if (o.gpu === undefined) throw new MstingError('USAGE', 'say which: --gpu or --no-gpu', { hint: 'msting swarm label NODE --gpu' });
        return { node: String(a[0]), gpu: Boolean(o.gpu) };
      }),
    );

  const models = program.command('models').description('list, download, verify and remove local models');
  models
    .command('list')
    .description('each configured model: repo, revision, size, state')
    .action(action(() => import('./commands/models-list.js'), () => ({})));
  models
    .command('download')
    .description('download models (resumable, verified)')
    .argument('[name...]', 'models to download (default: the enabled ones)')
    .addHelpText('after', examples(['msting models download', 'msting models download phi3']))
    .action(action(() => import('./commands/models-download.js'), (a) => ({ names: words(a[0]) })));
  models
    .command('verify')
    .description('check every downloaded file against the hub hashes')
    .argument('[name...]', 'models to verify (default: all downloaded)')
    .action(action(() => import('./commands/models-verify.js'), (a) => ({ names: words(a[0]) })));
  models
    .command('remove')
    .description('delete a downloaded model')
    .argument('<name>', 'model name')
    .action(action(() => import('./commands/models-remove.js'), (a) => ({ name: String(a[0]) })));

  program
    .command('unseal')
    .description('unseal Vault with stored shares, a shares file, standard input or a hidden prompt')
    .option('--shares-file <file>', 'read unseal shares from this file, one a line; - reads standard input')
    // Its first spelling, which read like the backup key: kept working, with a note.
    .addOption(deprecatedOption('--key-file <file>', '--shares-file'))
    .addHelpText('after', examples(['msting unseal', 'msting unseal --shares-file /media/usb/shares.txt', 'cat shares.txt | msting unseal --shares-file -']))
    .action(action(() => import('./commands/unseal.js'), (_a, o) => ({ sharesFile: text(o, 'sharesFile') ?? text(o, 'keyFile') })));
  const vault = program.command('vault').description('Vault lifecycle');
  vault
    .command('init')
    .description('initialize Vault, store the shares, generate every secret')
    .option('--shares-file <file>', 'write the unseal shares to this new file to take away, instead of keeping them on this host (turns auto-unseal off)')
    .option('--keep-root-token', 'keep the root token in secrets/ instead of revoking it (vault.keep_root_token)', false)
    .addHelpText('after', examples(['msting vault init', 'msting vault init --shares-file /media/usb/sting-shares.txt']))
    .action(
      action(() => import('./commands/vault-init.js'), (_a, o) => ({
        sharesFile: text(o, 'sharesFile'),
        keepRootToken: Boolean(o.keepRootToken),
      })),
    );
  vault
    .command('status')
    .description('uninitialized, sealed (with progress) or unsealed')
    .action(action(() => import('./commands/vault-status.js'), () => ({})));
  const vaultSecret = program.command('vault-secret').description('provider API keys kept in Vault');
  vaultSecret.command('list').description('list stored provider secrets').action(action(() => import('./commands/vault-secret.js'), () => ({ action: 'list' as const })));
  vaultSecret
    .command('set')
    .description('store a provider secret; reads standard input when VALUE is "-" or absent')
    .argument('<provider>', 'openai, anthropic, huggingface, ...')
    .argument('[value]', 'the value, or - for standard input (keeps it out of shell history)')
    .addHelpText('after', examples(['msting vault-secret set huggingface', 'pass show hf | msting vault-secret set huggingface -']))
    .action(
      action(() => import('./commands/vault-secret.js'), (a) => ({ action: 'set' as const, provider: String(a[0]), value: maybe(a[1]) })),
    );
  vaultSecret
    .command('get')
    .description('show a provider secret, masked unless --reveal')
    .argument('<provider>')
    .option('--reveal', 'print the value itself', false)
    .action(action(() => import('./commands/vault-secret.js'), (a, o) => ({ action: 'get' as const, provider: String(a[0]), reveal: Boolean(o.reveal) })));
  vaultSecret
    .command('delete')
    .description('delete a provider secret')
    .argument('<provider>')
    .action(action(() => import('./commands/vault-secret.js'), (a) => ({ action: 'delete' as const, provider: String(a[0]) })));
  program
    .command('credential')
    .description('user and password of a web UI whose password msting keeps in Vault (grafana, mailpit)')
    .argument('<name>', 'grafana or mailpit')
    .addHelpText('after', examples(['msting credential grafana', 'msting credential mailpit']))
    .action(action(() => import('./commands/credential.js'), (a) => ({ name: String(a[0]) })));
  const keys = program.command('encryption-keys').description('stack encryption keys in Vault');
  keys.command('status').description('presence, version, age and last rotation of each key').action(action(() => import('./commands/encryption-keys.js'), () => ({ action: 'status' as const })));
  keys
    .command('rotate')
    .description('write a new version of a key and restart only its users')
    .argument('[key]', 'key id, e.g. kratos.cookie (default: every key whose rotation loses no data)')
    .action(action(() => import('./commands/encryption-keys.js'), (a) => ({ action: 'rotate' as const, key: maybe(a[0]) })));

  const backup = program
    .command('backup')
    .description('back up databases, volumes and config into one archive')
    .option('--encrypt', 'encrypt (AES-256-GCM) with the backup key file, or a passphrase when one is given', false)
    .option('--output <dir>', 'where to write the archive (default <home>/backups)')
    .option('--keep <n>', 'keep only the newest N archives', positiveInt('--keep'))
    .option('--passphrase', 'encrypt with a passphrase asked on the terminal', false)
    .addOption(passphraseFileOption())
    .addOption(backupKeyFileOption('backup key file (default <home>/secrets/backup.key, created when missing)'))
    .option('--include-vault-keys', 'also put Vault\'s unseal material in the archive (needs a passphrase)', false)
    .addHelpText('after', examples(['msting backup --encrypt', 'msting backup --encrypt --passphrase-file ~/.sting-pass --keep 7', 'msting backup --output /mnt/backups --keep 7']))
    .action(
      action(() => import('./commands/backup.js'), (_a, o) => ({
        encrypt: Boolean(o.encrypt),
        output: text(o, 'output'),
        keep: count(o, 'keep'),
        passphrase: Boolean(o.passphrase),
        ...archiveKeys(o),
        includeVaultKeys: Boolean(o.includeVaultKeys),
      })),
    );
  // Options of `backup` are also parsed after its subcommands, so the subcommands read them from there too.
  const backupKeys = (o: Opts) => archiveKeys(o, backup.opts());
  backup
    .command('list')
    .description('archives with sizes, dates, encryption and last verification')
    .option('--dir <dir>', 'directory to list (default <home>/backups)')
    .action(action(() => import('./commands/backup-list.js'), (_a, o) => ({ dir: text(o, 'dir') ?? text(backup.opts(), 'output') })));
  backup
    .command('verify')
    .description('authenticate every chunk, check every file against the manifest, pg_restore --list every dump')
    .argument('<file>')
    .addOption(passphraseFileOption())
    .addOption(backupKeyFileOption())
    .action(action(() => import('./commands/backup-verify.js'), (a, o) => ({ file: String(a[0]), ...backupKeys(o) })));
  backup
    .command('decrypt')
    .description('write the plain archive of an encrypted one')
    .argument('<file>')
    .requiredOption('-o, --out <file>', 'where to write the plain archive')
    .addOption(passphraseFileOption())
    .addOption(backupKeyFileOption())
    .action(action(() => import('./commands/backup-decrypt.js'), (a, o) => ({ file: String(a[0]), out: String(o.out), ...backupKeys(o) })));
  program
    .command('restore')
    .description('restore an archive: verify, stop, restore databases, volumes and config, start')
    .argument('<file>')
    .option('--dry-run', 'verify and show what would be replaced', false)
    .addOption(passphraseFileOption())
    .addOption(backupKeyFileOption())
    .addHelpText('after', examples(['msting restore backups/msting-backup-sting-ce-20250101T020000.000Z.tar.enc --dry-run', 'msting restore FILE --yes']))
    .action(
      action(() => import('./commands/restore.js'), (a, o) => ({
        file: String(a[0]),
        dryRun: Boolean(o.dryRun),
        ...archiveKeys(o),
      })),
    );

  const bundle = program.command('bundle').description('an offline bundle: images, models, config and msting itself, for a host with no network');
  bundle
    .command('create')
    .description('write every image of the profile, the enabled models (--with-models), config.yml without secrets and msting\'s npm package into one archive')
    .addOption(profileOption())
    .option('--with-models', 'also carry the enabled models (downloaded here first)', false)
    .option('-o, --output <file>', 'the archive to write (default ./<project>-bundle-<profile>-<version>.tar)')
    .addHelpText('after', examples(['msting bundle create', 'msting bundle create --profile full --with-models --output /mnt/usb/sting.tar']))
    .action(
      action(() => import('./commands/bundle-create.js'), (_a, o) => ({
        profile: text(o, 'profile'),
        withModels: Boolean(o.withModels),
        output: text(o, 'output'),
      })),
    );
  bundle
    .command('verify')
    .description('re-hash every entry of a bundle against its manifest')
    .argument('<file>')
    .addHelpText('after', examples(['msting bundle verify sting-ce-bundle-default-0.1.0.tar']))
    .action(action(() => import('./commands/bundle-verify.js'), (a) => ({ file: String(a[0]) })));

  program
    .command('check-ports')
    .description('find host ports claimed twice or already in use')
    .addHelpText('after', examples(['msting check-ports', 'msting check-ports --json']))
    .action(action(() => import('./commands/check-ports.js'), () => ({})));
  program
    .command('doctor')
    .description('every preflight check plus service, Vault, disk and backup state')
    .option('--bundle <file>', 'write a support bundle (tar.gz) with every secret redacted')
    .addHelpText('after', examples(['msting doctor', 'msting doctor --bundle sting-support.tar.gz']))
    .action(action(() => import('./commands/doctor.js'), (_a, o) => ({ bundle: text(o, 'bundle') })));
  program
    .command('reset-auth')
    .description('delete every account: recreate the Kratos database and re-run its migration')
    .addOption(timeoutOption('Kratos to come back', 300))
    .addHelpText('after', examples(['msting reset-auth', 'msting reset-auth --yes']))
    .action(action(() => import('./commands/reset-auth.js'), (_a, o) => ({ timeout: defaulted(o, 'timeout') })));
  program
    .command('setup-ssl')
    .description('create a local CA and certificates, or use Let\'s Encrypt')
    .option('--domain <domain>', 'public domain for Let\'s Encrypt')
    .option('--email <email>', 'contact email for Let\'s Encrypt')
    .option('--staging', 'use Let\'s Encrypt\'s staging CA (untrusted certificates, generous rate limits)', false)
    .option('--webroot <dir>', 'answer the HTTP-01 challenge with files in this web root (a web server already on port 80)')
    .option('--http-port <port>', 'port of the standalone challenge listener', positiveInt('--http-port'), 80)
    .option('--renew', 'renew what is due (a certificate ending within 30 days, or missing a name); nothing otherwise. Run it daily', false)
    .addHelpText('after', examples(['msting setup-ssl', 'sudo msting setup-ssl --domain sting.example.com --email ops@example.com', 'sudo msting setup-ssl --renew']))
    .action(
      action(() => import('./commands/setup-ssl.js'), (_a, o) => ({
        domain: text(o, 'domain'),
        email: text(o, 'email'),
        staging: Boolean(o.staging),
        webroot: text(o, 'webroot'),
        httpPort: defaulted(o, 'httpPort'),
        renew: Boolean(o.renew),
      })),
    );
  program
    .command('clean')
    .description('remove the project\'s containers and networks; volumes only with --volumes')
    .option('--volumes', 'also delete the data volumes (asks first, lists them)', false)
    .action(action(() => import('./commands/clean.js'), (_a, o) => ({ volumes: Boolean(o.volumes) })));
  program
    .command('uninstall')
    .description('stop and remove the stack; --purge also deletes data')
    .option('--purge', 'also remove volumes, the install directory and models (lists them and asks)', false)
    .addHelpText('after', examples(['msting uninstall', 'msting uninstall --purge --yes']))
    .action(action(() => import('./commands/uninstall.js'), (_a, o) => ({ purge: Boolean(o.purge) })));

  program.hook('postAction', () => {
    runtime.exitCode = exitCode;
  });
  return program;
}

/** Name the replacement when a command is given an option by its deprecated spelling (stderr, every mode). */
function warnDeprecated(cmd: Command, ctx: Context): void {
  for (const option of cmd.options) {
    const replacement = replacements.get(option);
    if (replacement !== undefined && cmd.getOptionValueSource(option.attributeName()) === 'cli') {
      ctx.out.warn(`${option.long} is deprecated on \`msting ${cmd.name()}\`: use ${replacement} (it works the same)`);
    }
  }
}

/** Append the command to the audit trail; a log that cannot be written never fails the command. */
async function record(home: string, env: NodeJS.ProcessEnv, operation: Operation, outcome: { exitCode: number; error?: unknown }): Promise<void> {
  try {
    const { isAudited, recordOperation } = await import('./audit/operations.js');
    if (isAudited(operation)) await recordOperation(home, env, operation, outcome);
  } catch {
    // The command's own result stands.
  }
}

/** What the audit trail records of a command: its path, its arguments, the option names given. */
function describeOperation(cmd: Command, positional: unknown[]): Operation {
  const names: string[] = [];
  for (let c: Command | null = cmd; c && c.parent; c = c.parent) names.unshift(c.name());
  const args = positional.flatMap((a) => (Array.isArray(a) ? a : a === undefined ? [] : [a])).map(String);
  const options = Object.keys(cmd.opts()).filter((k) => cmd.getOptionValueSource(k) === 'cli');
  return { command: names.join(' '), args, options };
}

/** The single error boundary: every failure becomes one message with a hint and an exit code. */
export async function main(argv: string[], streams: Streams = process, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts += 1;
    if (interrupts > 1) process.exit(ExitCode.interrupted);
    controller.abort(new MstingError('INTERRUPTED', 'interrupted', { hint: 'run the same command again to pick up where it stopped' }));
  };
  process.on('SIGINT', onSigint);
  // `msting status --json | head`: a reader that goes away is not an error of ours.
  const onStdoutError = (err: NodeJS.ErrnoException): void => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? ExitCode.ok);
    throw err;
  };
  if (streams.stdout === process.stdout) process.stdout.on('error', onStdoutError);
  const runtime: Runtime = { streams, env, signal: controller.signal };
  const wantsJson = argv.includes('--json');
  const wantsVerbose = argv.includes('--verbose');
  let ctx: Context | undefined;
  try {
    const program = buildProgram(runtime, (c) => {
      ctx = c;
    });
    await program.parseAsync(argv);
    return runtime.exitCode ?? ExitCode.ok;
  } catch (err) {
    return reportError(err, ctx, { json: wantsJson, verbose: wantsVerbose, streams, env });
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function reportError(
  err: unknown,
  ctx: Context | undefined,
  fallback: { json: boolean; verbose: boolean; streams: Streams; env: NodeJS.ProcessEnv },
): number {
  const out = ctx?.out ?? createOutput({ json: fallback.json, color: false, verbose: fallback.verbose }, fallback.streams, fallback.env);
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return ExitCode.ok;
    if (err.code === 'commander.executeSubCommandAsync') return ExitCode.ok;
    // commander already printed its own message to stderr; add the JSON form for scripts.
    if (out.json) out.result({ error: { code: 'USAGE', message: err.message.replace(/^error: /, ''), hint: 'run msting --help' } });
    return ExitCode.usage;
  }
  const error = isMstingError(err)
    ? err
    : err instanceof Error && err.name === 'AbortError'
      ? new MstingError('INTERRUPTED', 'interrupted', { hint: 'run the same command again to pick up where it stopped' })
      : new MstingError('FAILURE', `internal error: ${err instanceof Error ? err.message : String(err)}`, {
          hint: 'run again with --verbose for details, and report it if it repeats',
          cause: err,
        });
  if (out.json) {
    out.result({ error: { code: error.code, message: error.message, hint: error.hint ?? null, details: error.details } });
  } else {
    // Messages quote user values; no control character in them may reach the terminal.
    out.stderr.write(`${out.paint('red', 'error:')} ${printable(error.message)}\n`);
    for (const line of error.details) out.stderr.write(`  ${printable(line)}\n`);
    if (error.hint) out.stderr.write(`${out.paint('cyan', 'hint:')} ${printable(error.hint)}\n`);
  }
  if (out.verbose) {
    const stack = (error.cause instanceof Error ? error.cause : error).stack;
    if (stack) out.stderr.write(`${stack}\n`);
  }
  return error.exitCode;
}
