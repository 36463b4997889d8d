/** ckpt export, import, push and pull: checkpoints as OCI artifacts, in image layouts and registries. */
import type { CommandModule } from 'yargs';
import { ImageError } from '../../image/format.js';
import type { ReadImage } from '../../image/image-file.js';
import { untar } from '../../image/archive.js';
import { readLayoutImage } from '../../oci/layout-reader.js';
import { formatLayoutReference, parseLayoutReference, parseRegistryReference, type LayoutReference } from '../../oci/reference.js';
import { exportToLayout, importFromLayout, pullImage, pushImage, type Imported } from '../../oci/transfer.js';
import type { CliContext } from '../context.js';
import { counted } from '../counted.js';
import { declared, verb, type CommonArgs } from '../options.js';
import { EXPORT, IMPORT, PULL, PUSH } from '../options/oci.js';
import { UsageError } from '../usage-error.js';

/** asUsage runs a reference parser, turning a bad reference into bad usage (exit 2). */
function asUsage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ImageError && e.code === 'CKPT_BAD_REFERENCE') throw new UsageError(e.message);
    throw e;
  }
}

export function layoutArg(s: string): LayoutReference {
  return asUsage(() => parseLayoutReference(s));
}

function registryArg(s: string): string {
  return asUsage(() => parseRegistryReference(s));
}

/** readImageFromLayout: restore, check and inspect take an oci:DIR[:TAG] reference as well as a file. */
export async function readImageFromLayout(reference: string): Promise<ReadImage> {
  const { bytes } = await readLayoutImage(layoutArg(reference));
  // decodeImage hashes every entry itself, the digests being empty
  return { entries: untar(bytes), digests: new Map() };
}

function importedLine(verbName: string, from: string, to: string, r: Imported): string {
  return `${verbName} ${r.image.image.name} (${r.image.image.arch}, ${counted(r.image.image.tasks.length, 'task')}) from ${from} to ${to}, ${r.bytes} bytes, ${r.artifact.layer.digest}`;
}

function importedJson(from: string, to: string, r: Imported): string {
  return JSON.stringify({ from, image: to, container: r.image.image.name, arch: r.image.image.arch, tasks: r.image.image.tasks.length, bytes: r.bytes, manifest: r.artifact.manifestDigest, layer: r.artifact.layer.digest });
}

export function ociCommands(ctx: CliContext): CommandModule[] {
  return [
    verb<CommonArgs & { image: string; layout: string }>({
      ...declared(EXPORT),
      handler: async (a) => {
        const ref = layoutArg(a.layout);
        const r = await exportToLayout(a.image, ref);
        const where = formatLayoutReference({ ...ref, tag: r.tag });
        if (a.json) return ctx.out(JSON.stringify({ image: a.image, layout: where, tag: r.tag, manifest: r.manifest.digest, layer: r.layer.digest, bytes: r.layer.size, blobsWritten: r.blobsWritten, indexChanged: r.indexChanged }));
        ctx.out(`exported ${r.image.image.name} (${r.image.image.arch}, ${counted(r.image.image.tasks.length, 'task')}) to ${where}: manifest ${r.manifest.digest}, ${r.blobsWritten === 0 ? 'no new blob (the layout had this image)' : counted(r.blobsWritten, 'blob') + ' written'}`);
      },
    }),
    verb<CommonArgs & { layout: string; output: string }>({
      ...declared(IMPORT),
      handler: async (a) => {
        const ref = layoutArg(a.layout);
        const r = await importFromLayout(ref, a.output);
        ctx.out(a.json ? importedJson(a.layout, a.output, r) : importedLine('imported', a.layout, a.output, r));
      },
    }),
    verb<CommonArgs & { image: string; registry: string; tlsVerify: boolean }>({
      ...declared(PUSH),
      handler: async (a) => {
        const target = registryArg(a.registry);
        const r = await pushImage(a.image, target, { tlsVerify: a.tlsVerify });
        if (a.json) return ctx.out(JSON.stringify({ image: a.image, registry: target, manifest: r.manifest.digest, layer: r.layer.digest, bytes: r.layer.size }));
        ctx.out(`pushed ${r.image.image.name} (${r.image.image.arch}, ${counted(r.image.image.tasks.length, 'task')}) to ${target}: manifest ${r.manifest.digest}`);
      },
    }),
    verb<CommonArgs & { registry: string; output: string; tlsVerify: boolean }>({
      ...declared(PULL),
      handler: async (a) => {
        const source = registryArg(a.registry);
        const r = await pullImage(source, a.output, { tlsVerify: a.tlsVerify });
        ctx.out(a.json ? importedJson(source, a.output, r) : importedLine('pulled', source, a.output, r));
      },
    }),
  ];
}
