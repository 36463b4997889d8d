/**
 * The OCI image-spec v1.1.0 JSON schemas (schema/defs.json,
 * defs-descriptor.json, content-descriptor.json, image-manifest-schema.json,
 * image-index-schema.json, image-layout-schema.json) as zod schemas. Like
 * the JSON schemas they allow properties they do not name; ckpt's own,
 * stricter demands on what it reads are in layout-reader.ts.
 */
import { z } from 'zod';

/** defs-descriptor.json#/definitions/mediaType: RFC 6838 type/subtype */
export const mediaTypeSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/, 'not a media type');
/** defs-descriptor.json#/definitions/digest: algorithm:encoded */
export const digestSchema = z.string().regex(/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/, 'not a digest');
/** defs.json#/definitions/int64 */
const int64 = z.number().int().min(-9223372036854776000).max(9223372036854776000);
/** defs.json#/definitions/mapStringString */
export const annotationsSchema = z.record(z.string(), z.string());
const base64 = z.string().regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'not base64');

/** image-index-schema.json's platform of a manifest descriptor */
const platformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': z.array(z.string()).optional(),
  variant: z.string().optional(),
  features: z.array(z.string()).optional(),
});

/** content-descriptor.json: mediaType, digest and size are required since v1.1 */
export const descriptorSchema = z.looseObject({
  mediaType: mediaTypeSchema,
  size: int64,
  digest: digestSchema,
  urls: z.array(z.string()).optional(),
  data: base64.optional(),
  artifactType: mediaTypeSchema.optional(),
  annotations: annotationsSchema.optional(),
});
export type Descriptor = z.infer<typeof descriptorSchema>;

const manifestDescriptorSchema = descriptorSchema.extend({ platform: platformSchema.optional() });

/** image-manifest-schema.json */
export const manifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: mediaTypeSchema.optional(),
  artifactType: mediaTypeSchema.optional(),
  config: descriptorSchema,
  subject: descriptorSchema.optional(),
  layers: z.array(descriptorSchema).min(1),
  annotations: annotationsSchema.optional(),
});
export type Manifest = z.infer<typeof manifestSchema>;

/** image-index-schema.json */
export const indexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: mediaTypeSchema.optional(),
  artifactType: mediaTypeSchema.optional(),
  subject: descriptorSchema.optional(),
  manifests: z.array(manifestDescriptorSchema),
  annotations: annotationsSchema.optional(),
});
export type Index = z.infer<typeof indexSchema>;

/** image-layout-schema.json: the oci-layout file */
export const layoutFileSchema = z.looseObject({ imageLayoutVersion: z.enum(['1.0.0']) });
