/**
 * The Log's segment preparer is the shared one in src/etcd/segment-preparer.ts (WAL's
 * FilePipeline uses it too); these are the names src/log/log.ts imports.
 */
export {
  AUTO_FALLOCATE_ABOVE,
  SegmentPreparer,
  initialPreparation,
  openTailPreparation,
  prepareRange,
  writeZeros,
} from '../etcd/segment-preparer';
