import { describe, expect, it } from 'vitest';
import { metalWorkingSetBytes, probeHardware } from '../../../src/hardware/probe.js';
import { GiB, failed, fakeDeps, fixture, linuxServer, ok } from './fake-machine.js';

const nvidiaRuntime = ok(fixture('docker-info-nvidia-runtime.json'));

describe('probeHardware on Linux', () => {
  it('an H100 server with the nvidia runtime: GPU, container path, disks, CPU flags', async () => {
    const deps = fakeDeps(linuxServer({ commands: { 'nvidia-smi': ok(fixture('nvidia-smi-h100.csv')), docker: nvidiaRuntime } }));
    const p = await probeHardware(deps);
    expect(p.gpus).toHaveLength(1);
    expect(p.gpus[0]).toMatchObject({ vendor: 'nvidia', name: 'NVIDIA H100 80GB HBM3', memoryTotalMiB: 81559, computeCapability: '9.0' });
    expect(p.container).toMatchObject({ dockerReachable: true, nvidiaRuntime: true, rootDir: '/var/lib/docker', serverVersion: '26.1.3' });
    expect(p.cpu).toMatchObject({ model: 'AMD EPYC 9454', cores: 48, threads: 96, flags: { avx512: true, avx512bf16: true } });
    // /opt/models does not exist yet: the space is read on the nearest existing parent.
    expect(p.disks.models).toEqual({ path: '/opt/models', freeBytes: 400 * GiB, totalBytes: 1000 * GiB });
    expect(p.disks.dockerRoot?.path).toBe('/var/lib/docker');
    expect(p.problems).toEqual([]);
    expect(deps.calls).toContain('nvidia-smi --query-gpu=index,uuid,name,memory.total,memory.free,compute_cap,driver_version --format=csv,noheader,nounits');
  });

  it('no GPU at all: no nvidia-smi, no rocm-smi, nothing in sysfs; names nothing and reports no problem', async () => {
    const p = await probeHardware(fakeDeps(linuxServer()));
    expect(p.gpus).toEqual([]);
    expect(p.problems).toEqual([]);
    expect(p.container.nvidiaRuntime).toBe(false);
  });

  it('nvidia-smi that cannot reach the driver is a problem, not "no GPU" silence', async () => {
    const p = await probeHardware(fakeDeps(linuxServer({ commands: { 'nvidia-smi': failed(9, fixture('nvidia-smi-driver-failed.txt')) } })));
    expect(p.gpus).toEqual([]);
    expect(p.problems).toEqual([
      expect.objectContaining({ source: 'nvidia-smi', message: expect.stringContaining("couldn't communicate with the NVIDIA driver"), hint: expect.stringContaining('reinstall the driver') }),
    ]);
  });

  it('a hung nvidia-smi is reported with the time it was given', async () => {
    const p = await probeHardware(fakeDeps(linuxServer({ commands: { 'nvidia-smi': { kind: 'timeout', timeoutMs: 5000 } } })));
    expect(p.problems?.[0]?.message).toBe('nvidia-smi did not answer within 5 s');
  });

  it('asks an old driver again without compute_cap', async () => {
    const deps = fakeDeps(
      linuxServer({
        commands: {
          'nvidia-smi': (args) => (args[0]!.includes('compute_cap') ? failed(2, fixture('nvidia-smi-unknown-field.txt')) : ok(fixture('nvidia-smi-v100-old-driver.csv'))),
        },
      }),
    );
    const p = await probeHardware(deps);
    expect(p.gpus[0]).toMatchObject({ name: 'Tesla V100-PCIE-16GB', computeCapability: null });
    expect(deps.calls.filter((c) => c.startsWith('nvidia-smi'))).toHaveLength(2);
  });

  it('an NVIDIA card on the PCI bus without a driver is named, with the fix', async () => {
    const p = await probeHardware(
      fakeDeps(linuxServer({ dirs: { '/sys/class/drm': ['card0', 'renderD128'] }, files: { '/sys/class/drm/card0/device/vendor': '0x10de\n' } })),
    );
    expect(p.gpus).toEqual([expect.objectContaining({ vendor: 'nvidia', name: 'an NVIDIA GPU', memoryTotalMiB: null, source: 'sysfs' })]);
    expect(p.problems).toEqual([expect.objectContaining({ source: 'nvidia-smi', message: 'an NVIDIA GPU is present, but nvidia-smi is not installed' })]);
  });

  it('falls back to systeminformation to name a GPU no tool knows, skipping emulated adapters', async () => {
    const p = await probeHardware(
      fakeDeps(linuxServer({ graphics: [{ vendor: 'Intel Corporation', model: 'Arc A770' }, { vendor: 'Red Hat, Inc.', model: 'QXL paravirtual graphic card' }] })),
    );
    expect(p.gpus).toEqual([expect.objectContaining({ vendor: 'other', name: 'Intel Corporation Arc A770', memoryTotalMiB: null, source: 'systeminformation' })]);
  });

  it('AMD from rocm-smi JSON', async () => {
    const deps = fakeDeps(linuxServer({ commands: { 'rocm-smi': ok(fixture('rocm-smi-mi210.json')) }, paths: ['/dev/kfd'] }));
    const p = await probeHardware(deps);
    expect(p.gpus.map((g) => [g.vendor, g.name, g.memoryTotalMiB])).toEqual([
      ['amd', 'AMD Instinct MI210', 65520],
      ['amd', 'AMD Instinct MI210', 65520],
    ]);
    expect(p.container.amdDevices).toBe(true);
    expect(deps.calls).toContain('rocm-smi --showmeminfo vram --showproductname --json');
  });

  it('AMD from the amdgpu sysfs files when ROCm is not installed', async () => {
    const dev = '/sys/class/drm/card1/device';
    const p = await probeHardware(
      fakeDeps(
        linuxServer({
          dirs: { '/sys/class/drm': ['card1', 'card1-DP-1', 'renderD128'] },
          files: { [`${dev}/vendor`]: '0x1002\n', [`${dev}/mem_info_vram_total`]: '25753026560\n', [`${dev}/mem_info_vram_used`]: '1476395008\n' },
        }),
      ),
    );
    expect(p.gpus).toEqual([expect.objectContaining({ vendor: 'amd', name: 'AMD GPU (card1)', memoryTotalMiB: 24560, memoryFreeMiB: 23152, source: 'sysfs' })]);
  });

  it('a cgroup limit inside a container wins over the host RAM', async () => {
    const p = await probeHardware(
      fakeDeps(
        linuxServer({
          files: { '/proc/self/cgroup': fixture('cgroup-v2-container.txt'), '/sys/fs/cgroup/memory.max': '8589934592\n' },
          mem: { totalBytes: 64 * GiB, availableBytes: 50 * GiB },
        }),
      ),
    );
    expect(p.memory).toEqual({ totalBytes: 64 * GiB, availableBytes: 8 * GiB, cgroupLimitBytes: 8 * GiB });
  });

  it('a v1 limit on a parent cgroup binds too', async () => {
    const p = await probeHardware(
      fakeDeps(
        linuxServer({
          files: {
            '/proc/self/cgroup': '4:memory:/docker/abc\n',
            '/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes': '9223372036854771712\n',
            '/sys/fs/cgroup/memory/docker/memory.limit_in_bytes': '17179869184\n',
          },
        }),
      ),
    );
    expect(p.memory.cgroupLimitBytes).toBe(16 * GiB);
  });

  it('Docker daemon down: said in plain words with the way to start it', async () => {
    const p = await probeHardware(fakeDeps(linuxServer({ commands: { docker: failed(1, `${fixture('docker-info-daemon-down.json')}\n${fixture('docker-info-daemon-down.stderr.txt')}`) } })));
    expect(p.container).toMatchObject({ dockerReachable: false, error: 'the Docker daemon is not running' });
    expect(p.problems).toEqual([expect.objectContaining({ source: 'docker', hint: expect.stringContaining('systemctl start docker') })]);
    expect(p.disks.dockerRoot).toBeNull();
  });

  it('Docker socket permission denied and docker not installed are told apart', async () => {
    const denied = await probeHardware(
      fakeDeps(linuxServer({ commands: { docker: failed(1, 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock') } })),
    );
    expect(denied.container.error).toBe('permission denied on the Docker socket');
    const missing = await probeHardware(fakeDeps({ ...linuxServer(), commands: {} }));
    expect(missing.container.error).toBe('the docker command is not installed');
  });

  it('CDI: reads spec files when the engine does not list devices itself', async () => {
    const info = JSON.parse(fixture('docker-info-cdi.json'));
    delete info.DiscoveredDevices;
    const p = await probeHardware(
      fakeDeps(
        linuxServer({
          commands: { docker: ok(JSON.stringify(info)), 'nvidia-smi': ok(fixture('nvidia-smi-h100.csv')) },
          dirs: { '/etc/cdi': ['nvidia.yaml'] },
          files: { '/etc/cdi/nvidia.yaml': '---\ncdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: "0"\n' },
        }),
      ),
    );
    expect(p.container).toMatchObject({ cdi: true, cdiDevices: ['nvidia.com/gpu'], nvidiaRuntime: false });
  });

  it('finds the NVIDIA Container Toolkit hook on PATH', async () => {
    const p = await probeHardware(fakeDeps(linuxServer({ paths: ['/usr/bin/nvidia-container-runtime-hook'] })));
    expect(p.container.nvidiaHook).toBe(true);
  });

  it('STING_MODELS_DIR decides where model disk space is read', async () => {
    const p = await probeHardware(
      fakeDeps(linuxServer({ env: { PATH: '/usr/bin', STING_MODELS_DIR: '/srv/models' }, dirs: { '/srv': [] }, mounts: { '/srv': { freeBytes: 5 * GiB, totalBytes: 100 * GiB } } })),
    );
    expect(p.disks.models).toEqual({ path: '/srv/models', freeBytes: 5 * GiB, totalBytes: 100 * GiB });
  });

  it('a CPU probe failure still gives a profile, from /proc/cpuinfo, with the problem said', async () => {
    const p = await probeHardware(fakeDeps(linuxServer({ cpu: 'fail' })));
    expect(p.cpu).toMatchObject({ model: 'AMD EPYC', cores: 2, threads: 2 });
    expect(p.problems).toEqual([expect.objectContaining({ source: 'cpu' })]);
  });
});

describe('probeHardware on macOS', () => {
  it('Apple Silicon: Metal share of unified memory, Docker Desktop VM, no data root on the host', async () => {
    const deps = fakeDeps({
      platform: 'darwin',
      arch: 'arm64',
      cpu: { model: 'Apple M2 Max', cores: 12, threads: 12 },
      mem: { totalBytes: 64 * GiB, availableBytes: 30 * GiB },
      commands: {
        sysctl: (args) => (args.includes('machdep.cpu.brand_string') ? ok('Apple M2 Max\n') : args.includes('iogpu.wired_limit_mb') ? ok('0\n') : failed(1, 'unknown oid')),
        docker: ok(fixture('docker-info-desktop-mac.json')),
      },
      dirs: { '/home/op': [] },
      mounts: { '/': { freeBytes: 200 * GiB, totalBytes: 1000 * GiB } },
    });
    const p = await probeHardware(deps);
    expect(p.gpus).toEqual([expect.objectContaining({ vendor: 'apple', name: 'Apple M2 Max GPU', memoryTotalMiB: 48 * 1024, unifiedMemory: true })]);
    expect(p.container.memTotalBytes).toBe(8217321472);
    expect(p.disks.models?.path).toBe('/home/op/Downloads/llm_models');
    expect(p.disks.dockerRoot).toBeNull();
    expect(p.cpu.flags.avx2).toBe(false);
  });

  it('Metal working set: two thirds up to 36 GiB, three quarters above, iogpu.wired_limit_mb when set', () => {
    expect(metalWorkingSetBytes(16 * GiB, null)).toBe(Math.floor((16 * GiB * 2) / 3));
    expect(metalWorkingSetBytes(64 * GiB, null)).toBe(48 * GiB);
    expect(metalWorkingSetBytes(64 * GiB, 57344)).toBe(56 * GiB);
    expect(metalWorkingSetBytes(64 * GiB, 0)).toBe(48 * GiB);
  });
});
