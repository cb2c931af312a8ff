"""asyncpg: binary protocol throughout, its type introspection (it asks pg_type about every
type it has no codec for), prepared statements and executemany."""

import asyncio
import json

import asyncpg

from common import *


async def main():
    version("asyncpg", asyncpg.__version__)
    conn = await asyncpg.connect(host=HOST, port=PORT, user=USER, database=DB)
    # jsonb comes back as text unless a codec says otherwise; this is asyncpg's documented way.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.execute(CREATE_TABLE)
    await conn.execute(CREATE_VIEW)
    await conn.execute(CREATE_MV)
    await conn.executemany(
        "INSERT INTO readings (id, sensor, value, at, meta, tags) VALUES ($1, $2, $3, $4, $5, $6)",
        ROWS,
    )
    tested("executemany INSERT with binary parameters (numeric, timestamptz, jsonb, int[], NULLs)")

    rows = await conn.fetch("SELECT id, sensor, value, at, meta, tags FROM readings ORDER BY id")
    same_rows([tuple(r) for r in rows], ROWS, "table read back")
    tested("binary results of every column type")

    rows = await conn.fetch("SELECT * FROM recent WHERE sensor = $1 ORDER BY id", "a")
    same_rows([tuple(r) for r in rows], [ROWS[1]], "view with a parameter")
    stmt = await conn.prepare("SELECT sensor, n, total FROM per_sensor WHERE n >= $1 ORDER BY sensor")
    same_rows([tuple(r) for r in await stmt.fetch(1)], PER_SENSOR, "materialized view")
    same([a.name for a in stmt.get_attributes()], ["sensor", "n", "total"], "attributes")
    same([a.type.name for a in stmt.get_attributes()], ["varchar", "int8", "numeric"], "attribute types")
    tested("prepared statement on a materialized view; result types introspected")

    await conn.execute("INSERT INTO readings VALUES ($1, $2, $3, $4, $5, $6)", *LATE_ROW)
    same_rows([tuple(r) for r in await stmt.fetch(1)], PER_SENSOR_LATE, "after an insert")
    tested("materialized view kept up to date")

    # A type asyncpg has no built-in binary codec for makes it introspect pg_type.
    got = await conn.fetchval("SELECT ARRAY['x', NULL]::varchar[]")
    same(got, ["x", None], "varchar[]")
    tested("type introspection query for an array type")

    async with conn.transaction():
        got = [r["id"] async for r in conn.cursor("SELECT id FROM readings ORDER BY id", prefetch=2)]
    same(got, [1, 2, 3, 4], "cursor")
    tested("cursor iteration (portal with a row limit)")

    try:
        await conn.execute("SELECT 1/0")
        raise SystemExit("FAIL: no error for a division by zero")
    except asyncpg.exceptions.DivisionByZeroError:
        pass
    same(await conn.fetchval("SELECT $1::int + 1", 41), 42, "after an error")
    tested("errors carry SQLSTATE (DivisionByZeroError)")
    await conn.close()
    print("ok")


asyncio.run(main())
