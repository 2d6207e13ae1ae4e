/** Dawn helpers that need no GPU: parsing Dawn's adapter list, environment preparation. */
import { describe, expect, it } from 'vitest';
import { parseAvailableAdapters, prepareEnvironment } from '../../../runtime/gpu/dawn.ts';

describe('parseAvailableAdapters', () => {
  it("reads the names Dawn lists for the requested backend only", () => {
    const msg = "no adapter with backend 'vulkan' and name 'x' found\nAvailable adapters:\n * backend: 'vulkan', name: 'NVIDIA H200'\n * backend: 'vulkan', name: 'llvmpipe (LLVM 15.0.6, 256 bits)'\n * backend: 'opengles', name: 'llvmpipe'\n";
    expect(parseAvailableAdapters(msg, 'vulkan')).toEqual(['NVIDIA H200', 'llvmpipe (LLVM 15.0.6, 256 bits)']);
    expect(parseAvailableAdapters(msg, 'opengles')).toEqual(['llvmpipe']);
    expect(parseAvailableAdapters('no suitable backends found', 'vulkan')).toEqual([]);
  });
});

describe('prepareEnvironment', () => {
  it('sets XDG_RUNTIME_DIR when unset, EGL_PLATFORM only for OpenGL ES, and keeps what the user set', () => {
    const env: NodeJS.ProcessEnv = {};
    prepareEnvironment('vulkan', env);
    expect(env.XDG_RUNTIME_DIR).toMatch(/kiln-xdg-/);
    expect(env.EGL_PLATFORM).toBeUndefined();
    prepareEnvironment('opengles', env);
    expect(env.EGL_PLATFORM).toBe('surfaceless');
    const mine: NodeJS.ProcessEnv = { XDG_RUNTIME_DIR: '/run/user/7', EGL_PLATFORM: 'device' };
    prepareEnvironment('opengles', mine);
    expect(mine).toEqual({ XDG_RUNTIME_DIR: '/run/user/7', EGL_PLATFORM: 'device' });
  });
});
