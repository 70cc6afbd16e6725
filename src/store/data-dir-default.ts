/** Where data lives when nothing says otherwise (relative to the working directory). */
export const DEFAULT_DATA_DIR = './data';
