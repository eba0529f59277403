import type { Command } from '../command'; export const bench: Command = { name: 'bench', summary: 'todo', help: 'todo', options: {}, async run() { return 0; } };
