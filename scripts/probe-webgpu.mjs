// Exit 0 when Dawn finds a WebGPU adapter (Vulkan, or OpenGL ES as a fallback), 1 otherwise.
// Used by scripts/setup.sh to decide whether a driver must be installed.
import { create, globals } from 'webgpu';

Object.assign(globalThis, globals);
for (const backend of ['vulkan', 'opengles']) {
  if (backend === 'opengles') process.env.EGL_PLATFORM ??= 'surfaceless';
  const gpu = create([`backend=${backend}`]);
  const adapter = await gpu.requestAdapter(backend === 'opengles' ? { featureLevel: 'compatibility' } : undefined);
  if (adapter) {
    const info = adapter.info ?? {};
    console.log(`webgpu: ${backend} adapter found (${[info.vendor, info.architecture, info.description].filter(Boolean).join(', ') || 'unnamed'})`);
    process.exit(backend === 'vulkan' || process.argv.includes('--any') ? 0 : 1);
  }
}
console.log('webgpu: no adapter found');
process.exit(1);
