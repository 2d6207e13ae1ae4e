/**
 * The copy kernel that measures the adapter's bandwidth for the memory-bound figures: each
 * thread copies VEC consecutive vec4s (16·VEC bytes read and written), the simplest kernel that
 * moves bytes at the rate the adapter can. Bandwidth counts bytes read plus bytes written.
 */

export const COPY_WORKGROUP = 256;

export function copyWgsl(vec4s: number, perThread: number): string {
  const lines: string[] = [];
  for (let i = 0; i < perThread; i++) lines.push(`  dst[base + ${i}u] = src[base + ${i}u];`);
  return `// Bandwidth probe: copy ${vec4s} vec4s, ${perThread} per thread.
@group(0) @binding(0) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<vec4<f32>>;

@compute @workgroup_size(${COPY_WORKGROUP}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let t = gid.x + gid.y * nw.x * ${COPY_WORKGROUP}u;
  let base = t * ${perThread}u;
  if (base >= ${vec4s}u) { return; }
${lines.join('\n')}
}
`;
}

export function copyGrid(vec4s: number, perThread: number, maxPerDim: number): [number, number, number] {
  const groups = Math.ceil(vec4s / perThread / COPY_WORKGROUP);
  if (groups <= maxPerDim) return [groups, 1, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [maxPerDim, y, 1];
}
