/**
 * Dawn's OpenGL ES backend (the fallback where Vulkan is missing) writes workgroupBarrier as a
 * bare GLSL barrier(), which Mesa does not treat as a fence for workgroup memory: the second
 * workgroup tree of a GroupNorm statistics kernel then read the first one's partials. Kernels
 * for that backend fence their barriers (KernelWriter's fencedBarriers); this runs one there,
 * in a child process because the test worker's device is Vulkan.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { listAdapters } from '../../../runtime/device.ts';
import { runTsChild } from '../../runtime/ts_child.ts';

const gles = (await listAdapters(['opengles'])).some((r) => r.adapters.length > 0);

describe.skipIf(!gles)(gles ? 'kernels on the OpenGL ES backend' : 'kernels on the OpenGL ES backend — skipped: Dawn finds no OpenGL ES adapter here', () => {
  it('GroupNorm statistics with workgroup trees match the interpreter', async () => {
    const script = fileURLToPath(new URL('../fixtures/opengles-groupnorm-child.ts', import.meta.url));
    const r = await runTsChild(script, [], { KILN_TEST_BACKEND: 'opengles' });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').at(-1)).toBe('ok');
  });
});
