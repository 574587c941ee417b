export { pipelineWorkflow, pauseSignal, resumeSignal, progressQuery } from './pipeline';
