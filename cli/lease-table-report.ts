import type { LeaseFinding, LeaseTableReport } from './lease-table-check';

/** The report as the command prints it: leases, findings worst first, next steps, verdict. */
export function formatLeaseTableReport(report: LeaseTableReport): string[] {
  const lines: string[] = [];
  const watch = report.watchMs > 0 ? `read twice, ${report.watchMs / 1000} s apart` : 'read once';
  lines.push(`Lease table ${report.tableName} (${watch}${report.direction ? `, cut-over to ${report.direction === 'kcl' ? 'KCL' : 'Lambda'}` : ''})`);
  lines.push(`  ${report.leases.length} lease(s), keyed by ${report.keyFormat}; ${report.nonLeaseRows.length} row(s) that are not leases; index LeaseOwnerToLeaseKeyIndex ${report.index.state}`);
  if (report.stream) {
    lines.push(`  stream ${report.stream.streamName}, created ${report.stream.creationTimestamp.toISOString()} (epoch ms ${report.stream.creationTimestamp.getTime()})`);
  }
  lines.push('');
  lines.push('Leases:');
  if (report.leases.length === 0) lines.push('  (none)');
  for (const lease of report.leases) lines.push(`  ${leaseLine(lease)}`);
  lines.push('');
  lines.push('Findings:');
  if (report.findings.length === 0) lines.push('  (none)');
  for (const finding of report.findings) lines.push(`  ${finding.severity.toUpperCase()}: ${finding.message}`);
  lines.push('');
  lines.push('Next:');
  for (const step of report.nextSteps) lines.push(`  - ${step}`);
  lines.push('');
  lines.push(report.safe ? 'SAFE: nothing found that could lose or repeat a record.' : 'NOT SAFE: fix the findings marked UNSAFE, then run this check again.');
  return lines;
}

function leaseLine(lease: LeaseFinding): string {
  const owner = lease.owner ? `${lease.owner} (${lease.ownerKind === 'lambda' ? 'Lambda' : 'KCL'})` : 'no owner';
  const moved = lease.renewed ? `leaseCounter ${lease.counterBefore} -> ${lease.counterAfter} (live)` : `leaseCounter ${lease.counterAfter} (not renewed)`;
  const sub = lease.checkpointSubSequenceNumber > 0 ? `/${lease.checkpointSubSequenceNumber}` : '';
  const noted = lease.handoffNotedAt ? ` (Lambda waiting since ${lease.handoffNotedAt.toISOString()})` : '';
  const handoff = lease.checkpointOwner ? `, handoff from ${lease.checkpointOwner}${noted}` : '';
  const parents = lease.parentShardIds.length > 0 ? `, parents ${lease.parentShardIds.join(',')}` : '';
  return `${lease.leaseKey}: ${owner}, checkpoint ${lease.checkpoint}${sub}, ${moved}${handoff}${parents}`;
}
