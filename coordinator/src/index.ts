export { CONFIG, type Config } from './config.js';
