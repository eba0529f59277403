import type { Command } from '../command'; export const repair: Command = { name: 'repair', summary: 'todo', help: 'todo', options: {}, async run() { return 0; } };
