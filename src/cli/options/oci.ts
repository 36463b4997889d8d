/** The options of ckpt export, import, push and pull, as data (spec.ts). */
import { SHARED, type CommandSpec, type OptionSpec, type PositionalSpec } from './spec.js';

const IMAGE: PositionalSpec = { name: 'image', describe: 'the image file', required: true };
const REGISTRY: PositionalSpec = { name: 'registry', describe: 'docker://REGISTRY/REPO:TAG', required: true };
const OUTPUT: OptionSpec = { name: 'output', alias: 'o', type: 'string', required: true, describe: 'the image file to write' };
const TLS_VERIFY: OptionSpec = { name: 'tls-verify', type: 'boolean', default: true, describe: 'require HTTPS with a trusted certificate (--no-tls-verify for a plain-HTTP registry such as one on 127.0.0.1)' };

export const EXPORT: CommandSpec = {
  name: 'export',
  describe: 'Write an image into an OCI image layout (oci:DIR[:TAG], tag latest by default) as an OCI artifact',
  positionals: [IMAGE, { name: 'layout', describe: 'oci:DIR or oci:DIR:TAG; DIR is created, or added to', required: true }],
  shared: SHARED.common,
  options: [],
  examples: [['ckpt export web.tar oci:ckpts:web-1', 'add web.tar to the layout in ./ckpts, tagged web-1']],
};

export const IMPORT: CommandSpec = {
  name: 'import',
  describe: 'Read a checkpoint out of an OCI image layout into an image file, checking every digest',
  positionals: [{ name: 'layout', describe: 'oci:DIR or oci:DIR:TAG (without a tag: latest, or the only manifest)', required: true }],
  shared: SHARED.common,
  options: [OUTPUT],
  examples: [['ckpt import oci:ckpts:web-1 -o web.tar', 'the image tagged web-1, as a file']],
};

export const PUSH: CommandSpec = {
  name: 'push',
  describe: 'Push an image to a registry as an OCI artifact (needs skopeo)',
  positionals: [IMAGE, REGISTRY],
  shared: SHARED.common,
  options: [TLS_VERIFY],
  examples: [['ckpt push web.tar docker://registry.example.com/ckpt/web:1', 'then pull it on another machine']],
};

export const PULL: CommandSpec = {
  name: 'pull',
  describe: 'Pull a checkpoint from a registry into an image file, checking every digest (needs skopeo)',
  positionals: [REGISTRY],
  shared: SHARED.common,
  options: [TLS_VERIFY, OUTPUT],
  examples: [['ckpt pull docker://registry.example.com/ckpt/web:1 -o web.tar', 'then: ckpt restore web.tar']],
};
