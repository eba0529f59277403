import type { Command } from '../command'; export const stat: Command = { name: 'stat', summary: 'todo', help: 'todo', options: {}, async run() { return 0; } };
