export * from './setup';
export * from './propagation';
export * from './file-exporter';
export * from './temporal';
export * from './read';
