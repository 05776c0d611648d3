// The Grafana compose file agrees with the image and the reader model: Grafana mounts the worker's data volume
// read-only where the provisioned data source looks for the database, and joins the worker's group.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from './support/harness.js';

interface Service {
  volumes?: string[];
  group_add?: string[];
  user?: string;
  environment?: string[];
  read_only?: boolean;
}

const compose = parse(readFileSync(path.join(REPO_ROOT, 'deploy/grafana/docker-compose.yml'), 'utf8')) as { services: Record<string, Service>; volumes: Record<string, { name?: string } | null> };
const dockerfile = readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8');
/** Where the shipped Grafana data source opens the database (reporting/grafana/provisioning/datasources/sqlite.yaml). */
const GRAFANA_DATABASE = '/var/lib/mde-alert-sync/alerts.db';

describe('Grafana compose file', () => {
  it("mounts the worker's data volume read-only where the data source opens the database, in the worker's group", () => {
    const worker = compose.services['mde-alert-sync']!;
    const grafana = compose.services.grafana!;
    const databasePath = /MDE_ALERT_SYNC_DATABASE_PATH=(\S+)/.exec(dockerfile)![1]!;
    const workerMount = worker.volumes!.find((volume) => volume.endsWith(`:${path.dirname(databasePath)}`))!;
    const volume = workerMount.split(':')[0]!;
    assert.equal(compose.volumes[volume]?.name, 'mde-data', "the volume of the README's docker run examples");
    assert.ok(grafana.volumes!.includes(`${volume}:${path.dirname(GRAFANA_DATABASE)}:ro`), 'read-only, at the data source path');
    assert.equal(path.basename(databasePath), path.basename(GRAFANA_DATABASE));
    assert.ok(worker.read_only, 'the worker runs with a read-only root filesystem, as documented');
    // The image's user is node (uid and gid 1000 in the node images); the database is 0640 to that group.
    assert.match(dockerfile, /^USER node$/m);
    assert.deepEqual(grafana.group_add, ['1000']);
    assert.ok(grafana.environment!.includes('GF_INSTALL_PLUGINS=frser-sqlite-datasource'));
  });
});
