"""The tutorial design of a Python loader: one reader, a bounded asyncio.Queue, 4 consumer tasks
each holding an asyncpg connection, batches of 1000 lines parsed with json.loads and written with
executemany of INSERT ... ON CONFLICT (id) DO NOTHING. The line itself is the payload.

    python3 asyncpg-load.py DATABASE_URL FILE TABLE CREATE_TABLE_SQL
"""

import asyncio
import json
import sys

import asyncpg

BATCH = 1000
CONSUMERS = 4


async def main(dsn, path, table, create_table):
    pool = await asyncpg.create_pool(dsn, min_size=CONSUMERS, max_size=CONSUMERS)
    try:
        await pool.execute(create_table)
        insert = f'INSERT INTO "{table}" (id, ts, payload) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING'
        queue = asyncio.Queue(maxsize=CONSUMERS * 2)

        async def consume():
            async with pool.acquire() as conn:
                while True:
                    lines = await queue.get()
                    if lines is None:
                        return
                    rows = []
                    for line in lines:
                        event = json.loads(line)
                        rows.append((event["id"], float(event["ts"]), line))
                    await conn.executemany(insert, rows)

        consumers = [asyncio.create_task(consume()) for _ in range(CONSUMERS)]

        async def put(item):
            # A consumer that failed would leave the reader waiting on a full queue forever.
            putting = asyncio.ensure_future(queue.put(item))
            done, _ = await asyncio.wait({putting, *consumers}, return_when=asyncio.FIRST_COMPLETED)
            if putting not in done:
                putting.cancel()
                for task in done:
                    task.result()
                raise RuntimeError("a consumer ended before the input did")

        with open(path, encoding="utf-8") as lines_in:
            batch = []
            for line in lines_in:
                line = line.rstrip("\n")
                if not line:
                    continue
                batch.append(line)
                if len(batch) == BATCH:
                    await put(batch)
                    batch = []
            if batch:
                await put(batch)
        for _ in consumers:
            await put(None)
        await asyncio.gather(*consumers)
    finally:
        await pool.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
