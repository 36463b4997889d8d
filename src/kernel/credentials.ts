/**
 * Credentials and user namespaces. A task's capabilities are held in its
 * credentials' user namespace; a check names the user namespace it is made
 * against, and the rule is cap_capable()'s walk: the capability counts in the
 * holder's own namespace and below, and the owner of a child namespace has
 * every capability in it.
 */
import { hasCap, type CapSet } from '../abi/capabilities.js';

export class UserNamespace {
  /** id is assigned when the namespace is committed to a host; -1 until then. */
  id = -1;
  readonly level: number;
  constructor(
    readonly parent: UserNamespace | null,
    readonly ownerUid: number,
  ) {
    this.level = parent ? parent.level + 1 : 0;
  }
}

/** Credentials are per task (thread) and immutable; a change makes a new object (as prepare_creds/commit_creds). */
export interface Credentials {
  readonly uid: number;
  readonly euid: number;
  readonly suid: number;
  readonly userNs: UserNamespace;
  readonly effective: CapSet;
  readonly permitted: CapSet;
}

/** inUserns reports whether `child` is `ancestor` or below it (kernel/user_namespace.c in_userns). */
export function inUserns(ancestor: UserNamespace, child: UserNamespace): boolean {
  let ns: UserNamespace | null = child;
  while (ns && ns.level > ancestor.level) ns = ns.parent;
  return ns === ancestor;
}

/** capableIn reports whether `creds` has capability `cap` in user namespace `target` (cap_capable). */
export function capableIn(creds: Credentials, cap: number, target: UserNamespace): boolean {
  for (let ns: UserNamespace | null = target; ns; ns = ns.parent) {
    if (ns === creds.userNs) return hasCap(creds.effective, cap);
    // Past the holder's level the walk cannot meet its namespace any more.
    if (ns.level <= creds.userNs.level) return false;
    // The owner of a namespace created in the holder's namespace has every capability in it.
    if (ns.parent === creds.userNs && ns.ownerUid === creds.euid) return true;
  }
  return false;
}
