export * from './errors.js';
export * from './ids.js';
export * from './labels.js';
export * from './profile.js';
export * from './profile-type.js';
export * from './symbols.js';
export * from './matcher.js';
