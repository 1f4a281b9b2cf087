"""An amazon_kclpy record processor, as it would run under the MultiLangDaemon."""
import sys

from amazon_kclpy import kcl
from amazon_kclpy.v3 import processor


class RecordProcessor(processor.RecordProcessorBase):
    def initialize(self, initialize_input):
        self.shard_id = initialize_input.shard_id

    def process_records(self, process_records_input):
        for record in process_records_input.records:
            sys.stderr.write("{} {} {}\n".format(self.shard_id, record.sequence_number, len(record.binary_data)))
        # Checkpointing every batch is optional on Lambda: the runtime checkpoints each
        # successful batch at its end (see the README, "MultiLang processors").

    def lease_lost(self, lease_lost_input):
        pass

    def shard_ended(self, shard_ended_input):
        shard_ended_input.checkpointer.checkpoint()

    def shutdown_requested(self, shutdown_requested_input):
        shutdown_requested_input.checkpointer.checkpoint()


if __name__ == "__main__":
    kcl.KCLProcess(RecordProcessor()).run()
